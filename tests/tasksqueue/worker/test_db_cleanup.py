"""Async tasks' Django connections are closed after each job, with no thread hop when unused."""

import pytest
from asgiref.sync import SyncToAsync
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue.worker.db_cleanup import AsyncTaskConnections
from tests.tasksqueue.db_cleanup_tasks import count_users, no_database


def orm_thread_connection_open() -> bool:
    """Whether the thread where the async ORM runs holds an open connection."""
    return SyncToAsync.single_thread_executor.submit(
        lambda: connection.connection is not None
    ).result()


@pytest.mark.django_db(transaction=True)
def test_the_connection_an_async_task_opened_is_closed_after_it(run_worker_once):
    job_id = count_users.defer_sync()

    run_worker_once()

    assert ProcrastinateJob.objects.get(id=job_id).status == "succeeded"
    assert not orm_thread_connection_open()


@pytest.mark.django_db(transaction=True)
async def test_the_cleanup_runs_only_while_a_connection_may_be_open():
    cleanup = AsyncTaskConnections()
    calls = []

    async def run() -> None:
        await cleanup(lambda: no_database.func(), None, None)  # type: ignore[arg-type]
        calls.append(cleanup.maybe_open.is_set())

    with cleanup.watching():
        await run()  # unknown at first: cleans up, finds nothing open
        await run()
        await count_users.func()  # the async ORM opens a connection in its thread
        assert cleanup.maybe_open.is_set()
        await run()

    assert calls == [False, False, False]
    assert not orm_thread_connection_open()
