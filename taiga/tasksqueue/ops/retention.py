"""Retention: finished jobs, and by cascade their events, deleted after their retention age.

Runs as a periodic job (`taiga.tasksqueue.tasks`) and can be called directly.
"""

import datetime

from django.db import connections
from django.utils import timezone

from taiga.tasksqueue.conf import tq_settings

FINISHED_FAILED = ("failed", "cancelled", "aborted")

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


def delete_finished_jobs(*, succeeded_days: float, failed_days: float, batch_size: int) -> int:
    """Delete finished jobs (and, by cascade, their events) older than their retention age.

    A job's age is counted from its last event, i.e. from when it finished.
    """
    if batch_size < 1:
        # A batch of none would never reach the end of the jobs to delete.
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    now = timezone.now()
    deleted = 0
    for statuses, days in ((("succeeded",), succeeded_days), (FINISHED_FAILED, failed_days)):
        cutoff = now - datetime.timedelta(days=days)
        while True:
            with connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor() as cursor:
                cursor.execute(
                    _DELETE_FINISHED_BATCH,
                    {"statuses": list(statuses), "cutoff": cutoff, "batch_size": batch_size},
                )
                batch = cursor.rowcount
            deleted += batch
            if batch < batch_size:
                break
    return deleted
