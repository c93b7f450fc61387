"""Which jobs are stalled: in "doing" for a worker that is gone or whose heartbeat is older than a
moment. Written once, for the status report, the rescue job and the shell's retry; and the retry
that puts such a job back in the queue."""

import datetime

from django.db import connections
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from procrastinate import sql

from taiga.tasksqueue.conf import tq_settings

# A worker that stops cleanly deletes its row, which sets its jobs' worker_id to NULL; one that dies
# leaves its row with a heartbeat that stops moving.
STALLED_JOBS = """
SELECT job.id, job.task_name
  FROM procrastinate_jobs job
  LEFT JOIN procrastinate_workers worker ON worker.id = job.worker_id
 WHERE job.status = 'doing' AND (worker.id IS NULL OR worker.last_heartbeat < %(since)s)
"""

STALLED_JOBS_IN_ORDER = STALLED_JOBS + " ORDER BY job.id"

# One job, locked until the end of the transaction, if it is stalled still: another rescue run, or
# its worker coming back to life, may have ended it since it was listed.
LOCK_IF_STILL_STALLED = STALLED_JOBS + " AND job.id = %(job_id)s FOR UPDATE OF job"


def heartbeat_cutoff(
    stalled_after: float, now: datetime.datetime | None = None
) -> datetime.datetime:
    """Heartbeats older than this are stalled."""
    return (now or timezone.now()) - datetime.timedelta(seconds=stalled_after)


def list_stalled_jobs(stalled_after: float) -> list[tuple[int, str]]:
    """(id, task name) of each stalled job, oldest first."""
    with connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor() as cursor:
        cursor.execute(STALLED_JOBS_IN_ORDER, {"since": heartbeat_cutoff(stalled_after)})
        return [(job_id, task_name) for job_id, task_name in cursor.fetchall()]


def retry_at_once(cursor: CursorWrapper, job_id: int) -> None:
    """Procrastinate's retry of one failed or doing job, due now, in the cursor's transaction."""
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
