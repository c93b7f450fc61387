"""Built-in maintenance: rescuing jobs of dead workers, deleting old finished jobs.

Both run as periodic jobs (`taiga.tasksqueue.tasks`) and can be called directly.
"""

import datetime
import logging
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.utils import timezone
from procrastinate import sql
from procrastinate.jobs import Job
from procrastinate.manager import JobManager

logger = logging.getLogger(__name__)

FINISHED_FAILED = ("failed", "cancelled", "aborted")

_COUNT_RESCUE = """
INSERT INTO tasksqueue_jobrescue (job_id, rescues, last_rescued_at, failure_reason)
VALUES (%(job_id)s, 1, now(), '')
ON CONFLICT (job_id) DO UPDATE
    SET rescues = tasksqueue_jobrescue.rescues + 1, last_rescued_at = now()
RETURNING rescues
"""

_RECORD_FAILURE = (
    "UPDATE tasksqueue_jobrescue SET failure_reason = %(reason)s WHERE job_id = %(job_id)s"
)

# The job, locked until the end of the transaction, if it is still in "doing" for a stalled
# worker: another rescue run, or its worker coming back to life, may have ended it since it was
# listed.
_LOCK_IF_STILL_STALLED = """
SELECT job.id FROM procrastinate_jobs job
 WHERE job.id = %(job_id)s AND job.status = 'doing'
   AND (job.worker_id IS NULL OR job.worker_id IN (
        SELECT worker.id FROM procrastinate_workers worker
         WHERE worker.last_heartbeat < now() - make_interval(secs => %(stalled_after)s)
   ))
   FOR UPDATE OF job
"""

# One bounded batch: the jobs are locked only for the time of this statement, and jobs that
# another transaction holds are skipped rather than waited for.
_DELETE_FINISHED_BATCH = """
DELETE FROM procrastinate_jobs WHERE id IN (
    SELECT job.id FROM procrastinate_jobs job
     WHERE job.status = ANY(%(statuses)s::procrastinate_job_status[])
       AND NOT EXISTS (
           SELECT 1 FROM procrastinate_events event
            WHERE event.job_id = job.id AND event.at >= %(cutoff)s
       )
     ORDER BY job.id
     LIMIT %(batch_size)s
       FOR UPDATE SKIP LOCKED
)
"""


@dataclass
class RescueReport:
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def _give_up_reason(max_rescues: int) -> str:
    return (
        f"Gave up after {max_rescues} rescues: the worker running this job stopped "
        f"heartbeating each time (TASKSQUEUE_MAX_RESCUES={max_rescues})."
    )


def _rescue(job_id: int, *, stalled_after: float, max_rescues: int) -> int | None:
    """Retry the job, or fail it past `max_rescues`, if it is still stalled; return its rescue
    count, or None when it no longer needs rescuing.

    Checking, counting and ending the job happen in one transaction with the job's row locked, so
    two runs at once (the schedule's and one deferred by hand) rescue and count it once.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_LOCK_IF_STILL_STALLED, {"job_id": job_id, "stalled_after": stalled_after})
        if cursor.fetchone() is None:
            return None
        cursor.execute(_COUNT_RESCUE, {"job_id": job_id})
        row = cursor.fetchone()
        assert row is not None
        rescues = int(row[0])
        if rescues > max_rescues:
            cursor.execute(
                sql.queries["finish_job"],
                {"job_id": job_id, "status": "failed", "delete_job": False},
            )
            cursor.execute(
                _RECORD_FAILURE, {"job_id": job_id, "reason": _give_up_reason(max_rescues)}
            )
        else:
            cursor.execute(
                sql.queries["retry_job"],
                {
                    "job_id": job_id,
                    "retry_at": timezone.now(),
                    "new_priority": None,
                    "new_queue_name": None,
                    "new_lock": None,
                },
            )
    return rescues


async def rescue_stalled_jobs(
    job_manager: JobManager, *, stalled_after: float, max_rescues: int
) -> RescueReport:
    """Retry the jobs left in "doing" by workers silent for `stalled_after` seconds.

    A job rescued `max_rescues` times is marked failed on its next stall instead: a job that kills
    every worker that runs it must not go on killing workers.
    """
    report = RescueReport()
    stalled: list[Job] = list(
        await job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    )
    for job in stalled:
        assert job.id is not None
        rescues = await sync_to_async(_rescue)(
            job.id, stalled_after=stalled_after, max_rescues=max_rescues
        )
        if rescues is None:
            continue
        if rescues > max_rescues:
            logger.error(
                "Job %s (%s) failed: %s", job.id, job.task_name, _give_up_reason(max_rescues)
            )
            report.failed.append(job.id)
        else:
            logger.warning(
                "Job %s (%s) rescued from a stalled worker (rescue %d of %d)",
                job.id,
                job.task_name,
                rescues,
                max_rescues,
            )
            report.retried.append(job.id)
    return report


def delete_finished_jobs(*, succeeded_days: float, failed_days: float, batch_size: int) -> int:
    """Delete finished jobs (and, by cascade, their events) older than their retention age.

    A job's age is counted from its last event, i.e. from when it finished.
    """
    now = timezone.now()
    deleted = 0
    for statuses, days in ((("succeeded",), succeeded_days), (FINISHED_FAILED, failed_days)):
        cutoff = now - datetime.timedelta(days=days)
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    _DELETE_FINISHED_BATCH,
                    {"statuses": list(statuses), "cutoff": cutoff, "batch_size": batch_size},
                )
                batch = cursor.rowcount
            deleted += batch
            if batch < batch_size:
                break
    return deleted
