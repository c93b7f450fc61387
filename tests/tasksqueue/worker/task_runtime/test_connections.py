"""A worker keeps Django's connections across jobs, and never hands on one in a bad state."""

import threading
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue.task import Task
from taiga.tasksqueue.worker.task_runtime import connections as job_connections
from taiga.tasksqueue.worker.task_runtime.connections import JobConnections
from tests.tasksqueue.connection_tasks import (
    BACKENDS,
    CREATE_BACKENDS,
    WAYS,
    aleave,
    arecord,
    leave,
    record,
)
from tests.utils.processes import database_url
from tests.utils.waiting import wait_until

# (record, leave) for each kind of task: sync ones run in the worker's job threads, async ones'
# ORM calls in the async ORM's thread.
KINDS: dict[str, tuple[Task, Task]] = {"sync": (record, leave), "async": (arecord, aleave)}


@pytest.fixture
def backends():
    """Which backend ran each label: {label: (pid, backend_start, in_transaction)}."""
    with connection.cursor() as cursor:
        cursor.execute(CREATE_BACKENDS)

    def read() -> dict[str, tuple[Any, Any, bool]]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT label, pid, backend_start, in_transaction FROM {BACKENDS}")
            return {label: tuple(rest) for label, *rest in cursor.fetchall()}

    yield read
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {BACKENDS}")


def same_backend(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return a[:2] == b[:2]


def statuses() -> list[str]:
    return list(ProcrastinateJob.objects.order_by("id").values_list("status", flat=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", KINDS)
def test_one_connection_serves_job_after_job(run_worker_once, backends, kind):
    record_task, _ = KINDS[kind]
    for label in ("first", "second", "third"):
        record_task.defer_sync(label=label)

    run_worker_once()

    seen = backends()
    assert statuses() == ["succeeded"] * 3
    assert same_backend(seen["first"], seen["second"])
    assert same_backend(seen["second"], seen["third"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", KINDS)
def test_with_a_max_age_of_0_each_job_gets_a_new_connection(
    run_worker_once, backends, kind, settings
):
    settings.TASKSQUEUE_WORKER_CONN_MAX_AGE = 0
    record_task, _ = KINDS[kind]
    for label in ("first", "second"):
        record_task.defer_sync(label=label)

    run_worker_once()

    seen = backends()
    assert not same_backend(seen["first"], seen["second"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", WAYS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_a_job_left_in_a_bad_state_is_not_handed_to_the_next(
    run_worker_once, backends, kind, how
):
    record_task, leave_task = KINDS[kind]
    leave_task.defer_sync(how=how)
    record_task.defer_sync(label="next")
    record_task.defer_sync(label="after")

    run_worker_once()

    seen = backends()
    left_ok = "failed" if how == "connection terminated" else "succeeded"
    assert statuses() == [left_ok, "succeeded", "succeeded"]
    assert not same_backend(seen[how], seen["next"])
    assert seen["next"][2] is False  # not inside anybody's transaction
    assert same_backend(seen["next"], seen["after"])  # a clean connection is kept


@pytest.mark.django_db(transaction=True)
def test_the_worker_closes_its_connections_when_it_stops(run_worker_once, backends):
    record.defer_sync(label="sync")
    arecord.defer_sync(label="async")

    run_worker_once(concurrency=2)

    pids = [pid for pid, _, _ in backends().values()]

    def still_connected() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
            return cursor.fetchone()[0]

    # A server process ends a moment after its client has closed the connection.
    wait_until(lambda: still_connected() == 0, "the jobs' server processes to end")


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_while_idle_is_replaced_before_the_next_job(monkeypatch):
    """A server restart or an idle timeout between two jobs costs a reconnection, not a job."""
    monkeypatch.setattr(job_connections, "IDLE_CHECK_SECONDS", 0.0)
    keeper = JobConnections(max_age=600)
    pids: list[int] = []
    errors: list[BaseException] = []

    def job() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])

    def job_thread(kill_between: threading.Event, killed: threading.Event) -> None:
        try:
            keeper.around_sync(job, None, None)  # type: ignore[arg-type]
            kill_between.set()
            killed.wait(10)
            keeper.around_sync(job, None, None)  # type: ignore[arg-type]
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    kill_between, killed = threading.Event(), threading.Event()
    with keeper.watching():
        thread = threading.Thread(target=job_thread, args=(kill_between, killed))
        thread.start()
        assert kill_between.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
        killed.set()
        thread.join(10)

    assert errors == []
    assert len(pids) == 2
    assert pids[0] != pids[1]


@pytest.mark.django_db(transaction=True)
def test_connecting_again_does_not_stack_the_note_of_queries_on_djangos_connection():
    keeper = JobConnections(max_age=0)
    with keeper.watching():
        for _ in range(3):
            connection.close()
            connection.ensure_connection()
        assert connection.execute_wrappers == [keeper._note_orm_query]

    assert connection.execute_wrappers == []  # and none left once the worker has stopped


@pytest.mark.django_db(transaction=True)
async def test_the_async_orm_threads_connection_that_died_while_idle_is_replaced_before_a_job(
    monkeypatch,
):
    monkeypatch.setattr(job_connections, "IDLE_CHECK_SECONDS", 0.0)
    keeper = JobConnections(max_age=600)
    pids: list[int] = []

    def backend_pid() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])

    async def job() -> None:
        await sync_to_async(backend_pid)()

    with keeper.watching():
        await keeper.around_async(job, None, None)  # type: ignore[arg-type]
        await sync_to_async(terminate)(pids[0])
        await keeper.around_async(job, None, None)  # type: ignore[arg-type]
        await keeper.close_orm_thread()

    assert len(pids) == 2
    assert pids[0] != pids[1]


def terminate(pid: int) -> None:
    """From a connection of its own: the async ORM's thread holds the one being terminated."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
