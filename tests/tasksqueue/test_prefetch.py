"""Fetching several jobs in one statement keeps Procrastinate's fetch semantics."""

import datetime

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.prefetch import PrefetchingJobManager
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


async def test_one_statement_fetches_one_job_per_free_slot_in_priority_order():
    ids = await sync_to_async(defer_jobs)()
    worker_id = await sync_to_async(register_worker)()
    jobs = PrefetchingJobManager(tqmanager.job_manager.connector, free_slots=lambda: 10)

    fetched = []
    while (job := await jobs.fetch_job(queues=["default"], worker_id=worker_id)) is not None:
        fetched.append(job.id)

    # Priority then id; one job per lock; not the job scheduled later; not the other queue.
    assert fetched == [ids["high"], ids["locked_a"], ids["low"], ids["low_2"]]
    rows = {row.id: row async for row in ProcrastinateJob.objects.all()}
    assert {job_id for job_id, row in rows.items() if row.status == "doing"} == set(fetched)
    assert {rows[job_id].worker_id for job_id in fetched} == {worker_id}
    assert rows[ids["locked_b"]].status == "todo"


async def test_it_fetches_no_more_jobs_than_free_slots_and_hands_them_out_one_by_one():
    ids = await sync_to_async(defer_jobs)()
    worker_id = await sync_to_async(register_worker)()
    jobs = PrefetchingJobManager(tqmanager.job_manager.connector, free_slots=lambda: 2)

    first = await jobs.fetch_job(queues=None, worker_id=worker_id)

    assert first is not None
    assert (first.id, [job.id for job in jobs.fetched]) == (ids["other_queue"], [ids["high"]])
    assert [job.id for job in jobs.take_unstarted()] == [ids["high"]]
    assert not jobs.fetched
    assert await ProcrastinateJob.objects.filter(status="doing").acount() == 2
