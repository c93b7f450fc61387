"""Async defers: over a connection of the event loop's own when no transaction can hold them,
through Django's connection (and so inside the caller's transaction) otherwise."""

import asyncio
import datetime
import threading

import psycopg
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from procrastinate import exceptions
from procrastinate.contrib.django import connector_params
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue.defer.loop_connections import MAX_CONNECTIONS, in_a_transaction
from taiga.tasksqueue.manager import manager as tqmanager
from tests.tasksqueue.sample_tasks import configured, double
from tests.utils.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# The sessions of the test database other than the one asking, and what each ran last.
SESSIONS = (
    "SELECT pid, query, backend_start FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
# When this test started: the sessions of earlier tests may take a moment to end.
STARTED: list[datetime.datetime] = []


@pytest.fixture(autouse=True)
def _note_the_start() -> None:
    with psycopg.connect(**connector_params("default"), autocommit=True) as admin:
        [(now,)] = admin.execute("SELECT clock_timestamp()").fetchall()
    STARTED[:] = [now]


def sessions() -> dict[int, str]:
    with psycopg.connect(**connector_params("default"), autocommit=True) as admin:
        rows = admin.execute(SESSIONS).fetchall()
    return {pid: query for pid, query, started in rows if started >= STARTED[0]}


def deferring_sessions() -> list[int]:
    """This test's sessions whose last statement was a defer's INSERT (Django's run others)."""
    return [pid for pid, query in sessions().items() if "INSERT INTO procrastinate_jobs" in query]


def args_of(ids: list[int]) -> list[dict[str, int]]:
    return [ProcrastinateJob.objects.get(id=job_id).args for job_id in ids]


def test_outside_any_transaction_the_loop_defers_over_one_connection_closed_with_the_loop():
    async def defer_twice() -> tuple[list[int], list[int]]:
        ids = [await double.defer(1), await double.defer(2)]
        return ids, deferring_sessions()

    ids, during = asyncio.run(defer_twice())

    assert len(during) == 1  # the second defer reused the first one's connection
    wait_until(lambda: during[0] not in sessions(), "the loop's connection to be closed")
    assert args_of(ids) == [{"value": 1}, {"value": 2}]


def test_a_defer_awaited_inside_atomic_through_async_to_sync_rolls_back_with_it():
    async def defer() -> int:
        return await double.defer(1)

    with transaction.atomic():
        job_id = async_to_sync(defer)()
        assert ProcrastinateJob.objects.filter(id=job_id).exists()  # in this transaction
        transaction.set_rollback(True)

    assert not ProcrastinateJob.objects.exists()


async def test_a_defer_inside_a_transaction_of_the_async_orm_thread_rolls_back_with_it():
    # Django has no async atomic(); entering one on the thread its async ORM runs on is how async
    # code holds a transaction across awaits.
    block = transaction.atomic()
    await sync_to_async(block.__enter__)()
    try:
        job_id = await double.defer(1)
        assert await ProcrastinateJob.objects.filter(id=job_id).aexists()
    finally:
        await sync_to_async(block.__exit__)(RuntimeError, RuntimeError("roll back"), None)

    assert not await ProcrastinateJob.objects.aexists()


def test_under_async_to_sync_outside_a_transaction_the_waiting_threads_connection_is_used():
    # That loop lives for one call: a connection of its own would be opened and closed each time.
    async def defer() -> int:
        return await double.defer(1)

    with CaptureQueriesContext(connection) as queries:
        job_id = async_to_sync(defer)()

    assert [query["sql"].split()[:3] for query in queries.captured_queries] == [
        ["INSERT", "INTO", "procrastinate_jobs"]
    ]
    assert args_of([job_id]) == [{"value": 1}]


def test_a_transaction_in_any_thread_is_seen():
    entered, leave = threading.Event(), threading.Event()

    def hold_a_transaction() -> None:
        try:
            with transaction.atomic():
                entered.set()
                leave.wait(timeout=10)
        finally:
            connection.close()

    assert not in_a_transaction("default")
    thread = threading.Thread(target=hold_a_transaction)
    thread.start()
    try:
        assert entered.wait(timeout=10)
        assert in_a_transaction("default")
        assert not in_a_transaction("other")
    finally:
        leave.set()
        thread.join()
    assert not in_a_transaction("default")


async def test_a_connection_the_server_closed_while_idle_is_replaced():
    first = await double.defer(1)
    [pid] = await asyncio.to_thread(deferring_sessions)
    with psycopg.connect(**connector_params("default"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    await asyncio.to_thread(wait_until, lambda: pid not in sessions(), "the session to end")

    second = await double.defer(2)

    assert second == first + 1
    assert await asyncio.to_thread(deferring_sessions) not in ([], [pid])


async def test_concurrent_defers_take_at_most_max_connections_the_rest_go_through_django():
    ids = await asyncio.gather(*(double.defer(value) for value in range(3 * MAX_CONNECTIONS)))

    assert len(set(ids)) == 3 * MAX_CONNECTIONS
    # Django's connection (on its async ORM thread) may have deferred too: at most one more.
    assert len(await asyncio.to_thread(deferring_sessions)) <= MAX_CONNECTIONS + 1


async def test_a_queueing_lock_taken_is_already_enqueued_and_the_connection_stays_usable():
    await configured.defer(1)  # its task's queueing lock is "report-queueing-lock"

    with pytest.raises(exceptions.AlreadyEnqueued, match="queueing lock report-queueing-lock"):
        await configured.defer(2)
    with pytest.raises(exceptions.AlreadyEnqueued):
        await configured.configure(lock=None).defer_many([(3,), (4,)])  # all or nothing
    later = await double.defer(5)

    assert await ProcrastinateJob.objects.acount() == 2
    assert len(await asyncio.to_thread(deferring_sessions)) == 1
    assert later


async def test_after_the_database_settings_change_the_loop_connects_again():
    await double.defer(1)
    [before] = await asyncio.to_thread(deferring_sessions)

    tqmanager.inserter.reset()  # what a change of DATABASES or PROCRASTINATE_DATABASE_ALIAS does
    await double.defer(2)

    await asyncio.to_thread(wait_until, lambda: before not in sessions(), "the old one to close")
    assert len(await asyncio.to_thread(deferring_sessions)) == 1
