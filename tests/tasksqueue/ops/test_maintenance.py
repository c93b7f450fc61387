"""Built-in maintenance on real rows: stalled-job rescue and retention."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

from taiga.tasksqueue.models import JobRescue
from taiga.tasksqueue.ops import rescue, retention
from tests.tasksqueue.sample_tasks import add


def sql(query: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or {})
        return cursor.fetchall() if cursor.description else []


def worker(seconds_since_heartbeat: int) -> int:
    [(worker_id,)] = sql("SELECT procrastinate_register_worker_v1()")
    sql(
        "UPDATE procrastinate_workers SET last_heartbeat = now() - make_interval(secs => %(s)s)"
        " WHERE id = %(id)s",
        {"s": seconds_since_heartbeat, "id": worker_id},
    )
    return worker_id


def running_job(worker_id: int) -> int:
    job_id = add.defer_sync(1)
    sql(
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %(w)s WHERE id = %(id)s",
        {"w": worker_id, "id": job_id},
    )
    return job_id


def status(job_id: int) -> tuple[str, int]:
    job = ProcrastinateJob.objects.get(id=job_id)
    return job.status, job.attempts


@pytest.mark.django_db(transaction=True)
async def test_jobs_of_a_silent_worker_are_retried_until_max_rescues_then_failed():
    dead, alive = await sync_to_async(worker)(600), await sync_to_async(worker)(1)
    stalled = await sync_to_async(running_job)(dead)
    healthy = await sync_to_async(running_job)(alive)

    async def rescue_once() -> rescue.RescueReport:
        return await rescue.rescue_stalled_jobs(stalled_after=60, max_rescues=2)

    for attempt in (1, 2):
        report = await rescue_once()
        assert (report.retried, report.failed) == ([stalled], [])
        assert await sync_to_async(status)(stalled) == ("todo", attempt)
        # The job is picked up again and its new worker dies too.
        await sync_to_async(sql)(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %(w)s WHERE id = %(id)s",
            {"w": dead, "id": stalled},
        )

    report = await rescue_once()

    assert (report.retried, report.failed) == ([], [stalled])
    assert await sync_to_async(status)(stalled) == ("failed", 3)
    rescue_row = await JobRescue.objects.aget(job_id=stalled)
    assert rescue_row.rescues == 3
    assert rescue_row.failure_reason == (
        "Gave up after 2 rescues: the worker running this job stopped heartbeating each time "
        "(TASKSQUEUE_MAX_RESCUES=2)."
    )
    assert await sync_to_async(status)(healthy) == ("doing", 0)
    assert (await rescue_once()).retried == []


def finished_job(job_status: str, days_ago: float) -> int:
    job_id = add.defer_sync(1)
    sql(
        "UPDATE procrastinate_jobs SET status = %(s)s WHERE id = %(id)s",
        {"s": job_status, "id": job_id},
    )
    sql(
        "UPDATE procrastinate_events SET at = now() - make_interval(secs => %(secs)s)"
        " WHERE job_id = %(id)s",
        {"secs": days_ago * 86400, "id": job_id},
    )
    return job_id


@pytest.mark.django_db(transaction=True)
def test_retention_deletes_exactly_the_finished_jobs_past_their_age_in_batches():
    old_succeeded = [finished_job("succeeded", 8) for _ in range(5)]
    kept = {
        finished_job("succeeded", 6),
        finished_job("failed", 29),
        finished_job("cancelled", 10),
        finished_job("todo", 100),
        finished_job("doing", 100),
    }
    old_failed = [finished_job(s, 31) for s in ("failed", "cancelled", "aborted")]
    # A periodic defer pointing at a deleted job is unlinked, not an error.
    sql(
        "INSERT INTO procrastinate_periodic_defers (task_name, defer_timestamp, job_id)"
        " VALUES ('x', 1, %(id)s)",
        {"id": old_succeeded[0]},
    )
    JobRescue.objects.create(job_id=old_failed[0], rescues=1)

    deleted = retention.delete_finished_jobs(succeeded_days=7, failed_days=30, batch_size=2)

    assert deleted == 8
    assert set(ProcrastinateJob.objects.values_list("id", flat=True)) == kept
    assert set(ProcrastinateEvent.objects.values_list("job_id", flat=True)) == kept
    assert sql("SELECT job_id FROM procrastinate_periodic_defers") == [(None,)]
    assert not JobRescue.objects.exists()
    assert retention.delete_finished_jobs(succeeded_days=7, failed_days=30, batch_size=2) == 0
