"""Fetching several jobs in one statement keeps Procrastinate's fetch semantics."""

import asyncio
import datetime

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone
from procrastinate import exceptions
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob
from procrastinate.jobs import Status

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.worker.jobs.statements import BatchingJobManager
from tests.tasksqueue.sample_tasks import add

pytestmark = pytest.mark.django_db(transaction=True)


def register_worker() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT procrastinate_register_worker_v1()")
        (worker_id,) = cursor.fetchone()
    return int(worker_id)


def defer_jobs() -> dict[str, int]:
    later = timezone.now() + datetime.timedelta(hours=1)
    return {
        "low": add.configure(priority=0).defer_sync(1),
        "high": add.configure(priority=5).defer_sync(2),
        "locked_a": add.configure(lock="L", priority=1).defer_sync(3),
        "locked_b": add.configure(lock="L", priority=1).defer_sync(4),
        "later": add.configure(schedule_at=later, priority=9).defer_sync(5),
        "other_queue": add.configure(queue="other", priority=9).defer_sync(6),
        "low_2": add.configure(priority=0).defer_sync(7),
    }


async def test_one_statement_fetches_up_to_the_free_slots_in_priority_order():
    ids = await sync_to_async(defer_jobs)()
    worker_id = await sync_to_async(register_worker)()
    jobs = BatchingJobManager(tqmanager.job_manager.connector)

    fetched = await jobs.fetch_jobs(queues=["default"], worker_id=worker_id, count=10)

    # Priority then id; one job per lock; not the job scheduled later; not the other queue.
    assert [job.id for job in fetched] == [ids["high"], ids["locked_a"], ids["low"], ids["low_2"]]
    rows = {row.id: row async for row in ProcrastinateJob.objects.all()}
    assert {job_id for job_id, row in rows.items() if row.status == "doing"} == {
        job.id for job in fetched
    }
    assert {rows[job.id].worker_id for job in fetched} == {worker_id}
    assert rows[ids["locked_b"]].status == "todo"
    # The lock's job is running: its next job waits, however many slots are free.
    assert await jobs.fetch_jobs(queues=["default"], worker_id=worker_id, count=10) == []


async def test_it_fetches_no_more_jobs_than_asked_for_and_the_rest_later():
    ids = await sync_to_async(defer_jobs)()
    worker_id = await sync_to_async(register_worker)()
    jobs = BatchingJobManager(tqmanager.job_manager.connector)

    first = await jobs.fetch_jobs(queues=None, worker_id=worker_id, count=2)
    second = await jobs.fetch_jobs(queues=None, worker_id=worker_id, count=2)

    assert [job.id for job in first] == [ids["other_queue"], ids["high"]]
    assert [job.id for job in second] == [ids["locked_a"], ids["low"]]
    assert await ProcrastinateJob.objects.filter(status="doing").acount() == 4


async def test_a_lock_freed_by_a_finished_job_lets_its_next_job_go():
    ids = await sync_to_async(defer_jobs)()
    worker_id = await sync_to_async(register_worker)()
    jobs = BatchingJobManager(tqmanager.job_manager.connector)
    await jobs.fetch_jobs(queues=["default"], worker_id=worker_id, count=10)

    await jobs.finish_soon(ids["locked_a"], Status.SUCCEEDED, delete_job=False)
    fetched = await jobs.fetch_jobs(queues=["default"], worker_id=worker_id, count=10)

    assert [job.id for job in fetched] == [ids["locked_b"]]


def start_jobs(count: int) -> tuple[int, list[int]]:
    worker_id = register_worker()
    ids = add.defer_many_sync([(n,) for n in range(count)])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = ANY(%s)",
            [worker_id, ids],
        )
    return worker_id, ids


async def test_outcomes_arriving_together_are_recorded_in_one_statement_each_as_asked():
    _, ids = await sync_to_async(start_jobs)(6)
    jobs = BatchingJobManager(tqmanager.job_manager.connector)
    statuses = [Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED, Status.ABORTED, Status.FAILED]

    await asyncio.gather(
        *(
            jobs.finish_soon(job_id, status, delete_job=False)
            for job_id, status in zip(ids, statuses, strict=False)
        ),
        jobs.finish_soon(ids[5], Status.SUCCEEDED, delete_job=True),
    )

    rows = {row.id: row.status async for row in ProcrastinateJob.objects.all()}
    assert rows == {job_id: status.value for job_id, status in zip(ids, statuses, strict=False)}
    # now() is the time of the transaction: one time for all the outcomes, one statement.
    ended_at = {
        event.at
        async for event in ProcrastinateEvent.objects.filter(
            type__in=["succeeded", "failed", "aborted"]
        )
    }
    assert len(ended_at) == 1


async def test_a_job_the_statement_cannot_end_fails_alone_and_the_others_are_recorded():
    _, ids = await sync_to_async(start_jobs)(3)
    await sync_to_async(_set_status)(ids[1], "succeeded")
    jobs = BatchingJobManager(tqmanager.job_manager.connector)

    results = await asyncio.gather(
        *(jobs.finish_soon(job_id, Status.SUCCEEDED, False) for job_id in ids),
        return_exceptions=True,
    )

    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], exceptions.ConnectorException)
    assert "Job was not found or not in" in str(results[1].__cause__)
    statuses = {row.id: row.status async for row in ProcrastinateJob.objects.all()}
    assert statuses == dict.fromkeys(ids, "succeeded")


def _set_status(job_id: int, status: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = %s WHERE id = %s", [status, job_id])
