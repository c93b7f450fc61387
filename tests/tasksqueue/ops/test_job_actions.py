"""Jobs changed by hand (`ops/job_actions.py`), on real rows: what goes with them, how they compare
with Procrastinate's own retry, and a worker fetching a job meanwhile."""

import threading

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob
from procrastinate.contrib.django.utils import connector_params

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.models import JobRescue
from taiga.tasksqueue.ops import job_actions
from tests.tasksqueue.sample_tasks import add
from tests.utils.processes import TIMEOUT
from tests.utils.waiting import wait_until

ADD = add.name

DELETE_WAITING_FOR_A_LOCK = """
SELECT pid FROM pg_stat_activity
 WHERE datname = current_database() AND wait_event_type = 'Lock'
   AND query LIKE '%%DELETE FROM procrastinate_jobs%%'
"""


def job_with_status(status: str) -> int:
    job_id = add.defer_sync(1)
    ProcrastinateJob.objects.filter(id=job_id).update(status=status)
    return job_id


def event_types(job_id: int) -> list[str]:
    return list(
        ProcrastinateEvent.objects.filter(job_id=job_id)
        .order_by("id")
        .values_list("type", flat=True)
    )


@pytest.mark.django_db
def test_retry_jobs_changes_a_failed_job_as_procrastinate_retry_does():
    ours = job_with_status("failed")
    before = timezone.now()
    assert job_actions.retry_jobs(status="failed", task=ADD) == 1
    theirs = job_with_status("failed")
    tqmanager.job_manager.retry_job_by_id(theirs, retry_at=timezone.now())

    jobs = {job.id: job for job in ProcrastinateJob.objects.filter(id__in=[ours, theirs])}
    assert [(jobs[i].status, jobs[i].attempts) for i in (ours, theirs)] == [("todo", 1)] * 2
    assert before <= jobs[ours].scheduled_at <= timezone.now()
    assert event_types(ours) == event_types(theirs)


@pytest.mark.django_db
def test_deleted_jobs_take_their_events_and_rescue_counts_with_them():
    doomed, kept = job_with_status("failed"), job_with_status("failed")
    for job_id in (doomed, kept):
        JobRescue.objects.create(job_id=job_id, rescues=1)

    assert job_actions.delete_jobs(status="failed", task=ADD) == 2

    assert not ProcrastinateJob.objects.filter(id__in=[doomed, kept]).exists()
    assert not ProcrastinateEvent.objects.filter(job_id__in=[doomed, kept]).exists()
    assert not JobRescue.objects.exists()


@pytest.mark.django_db
def test_an_unknown_status_is_refused_before_any_query(django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(job_actions.JobActionRefused) as refused:
        job_actions.delete_jobs(status="todo'; DROP TABLE x; --", task=ADD)

    assert str(refused.value).startswith('unknown status "todo\'; DROP TABLE x; --"; use one of ')


@pytest.mark.django_db(transaction=True)
def test_a_todo_job_that_a_worker_takes_meanwhile_is_not_deleted():
    job_id = add.defer_sync(1)
    outcome: list[BaseException | int] = []

    def delete() -> None:
        try:
            outcome.append(job_actions.delete_jobs(status="todo", task=ADD))
        except job_actions.JobActionRefused as exc:
            outcome.append(exc)
        finally:
            connections.close_all()

    with psycopg.connect(**connector_params()) as fetcher:
        # What a worker's fetch does: lock the job and move it to doing, in a transaction that has
        # not ended when the deletion comes.
        fetcher.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", [job_id])
        deleter = threading.Thread(target=delete)
        deleter.start()

        def deletion_waits() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(DELETE_WAITING_FOR_A_LOCK)
                return bool(cursor.fetchall())

        wait_until(deletion_waits, "the deletion to wait for the fetch's lock")
        fetcher.commit()
    deleter.join(TIMEOUT)

    assert [str(result) for result in outcome] == [
        f"no todo job of task '{ADD}'; list_tasks shows the jobs by task"
    ]
    assert ProcrastinateJob.objects.get(id=job_id).status == "doing"
