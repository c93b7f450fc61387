"""Jobs changed by hand (the shell): one retried or cancelled, or a task's jobs retried or deleted
by status, refusing whatever could touch a job a worker is running."""

from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from procrastinate import jobs, sql

from taiga.tasksqueue.conf import TasksQueueSettings, tq_settings
from taiga.tasksqueue.exceptions import TasksQueueError
from taiga.tasksqueue.ops.stalled import LOCK_IF_STILL_STALLED, heartbeat_cutoff, retry_at_once

STATUSES = tuple(status.value for status in jobs.Status)
# Statuses in which a worker may hold the job: deleting one would lose its end.
RUNNING = ("doing", "aborting")
DELETABLE = tuple(status for status in STATUSES if status not in RUNNING)
# What Procrastinate's retry accepts: a failed job, or one in doing whose worker is gone.
RETRYABLE_BY_ID = ("failed", "doing")

STALLED_AFTER_SETTING = TasksQueueSettings.TASKSQUEUE_STALLED_AFTER_SECONDS.name

_LOCK_JOB = "SELECT status::text FROM procrastinate_jobs WHERE id = %(job_id)s FOR UPDATE"

# Procrastinate's retry of a failed job, for all of a task's at once: back to todo, due now, with
# one attempt more.
_RETRY_FAILED = """
UPDATE procrastinate_jobs
   SET status = 'todo', attempts = attempts + 1, scheduled_at = %(now)s
 WHERE status = 'failed' AND task_name = %(task)s
"""

# Events and rescue counts go by cascade; a periodic job's row is unlinked by Procrastinate's
# trigger. A todo job a worker is fetching meanwhile is locked, and once in doing no longer matches.
_DELETE = """
DELETE FROM procrastinate_jobs
 WHERE status = %(status)s::procrastinate_job_status AND task_name = %(task)s
"""


class JobActionRefused(TasksQueueError):
    """Nothing was done: no such job, or the action does not apply to its status."""


def check_status(status: str) -> str:
    """`status`, if it is one of Procrastinate's; checked before any SQL sees it."""
    if status not in STATUSES:
        raise JobActionRefused(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    return status


def _cursor() -> CursorWrapper:
    return connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor()


def _lock_job(cursor: CursorWrapper, job_id: int) -> str:
    """The job's status, its row locked until the end of the transaction."""
    cursor.execute(_LOCK_JOB, {"job_id": job_id})
    row = cursor.fetchone()
    if row is None:
        raise JobActionRefused(f"no job {job_id}; list_jobs shows the jobs")
    return str(row[0])


def _stalled_after() -> float:
    return tq_settings.TASKSQUEUE_STALLED_AFTER_SECONDS


def _stalled(cursor: CursorWrapper, job_id: int) -> bool:
    since = heartbeat_cutoff(_stalled_after())
    cursor.execute(LOCK_IF_STILL_STALLED, {"job_id": job_id, "since": since})
    return cursor.fetchone() is not None


def retry_job(job_id: int) -> None:
    """Put a failed job, or a doing one whose worker is gone, back in todo, due now."""
    alias = tq_settings.PROCRASTINATE_DATABASE_ALIAS
    with transaction.atomic(using=alias), _cursor() as cursor:
        status = _lock_job(cursor, job_id)
        if status not in RETRYABLE_BY_ID:
            raise JobActionRefused(
                f"job {job_id} is {status}; only a failed job, or a doing one whose worker is "
                "gone, can be retried"
            )
        if status == "doing" and not _stalled(cursor, job_id):
            # Its worker may be running it still: a retry would run it twice.
            raise JobActionRefused(
                f"job {job_id} is doing on a live worker; it can be retried once that worker has "
                f"been silent for {STALLED_AFTER_SETTING} ({_stalled_after():g}s)"
            )
        retry_at_once(cursor, job_id)


def cancel_job(job_id: int) -> None:
    """Cancel a job waiting in todo: no worker will run it."""
    alias = tq_settings.PROCRASTINATE_DATABASE_ALIAS
    with transaction.atomic(using=alias), _cursor() as cursor:
        status = _lock_job(cursor, job_id)
        if status != "todo":
            raise JobActionRefused(f"job {job_id} is {status}; only a todo job can be cancelled")
        cursor.execute(
            sql.queries["cancel_job"], {"job_id": job_id, "abort": False, "delete_job": False}
        )


def retry_jobs(*, status: str, task: str) -> int:
    """Put every failed job of `task` back in todo, due now; return how many."""
    if check_status(status) != "failed":
        raise JobActionRefused(
            f"only failed jobs can be retried by task, not {status} ones; a stalled doing job "
            "is retried by its id (retry ID)"
        )
    with _cursor() as cursor:
        cursor.execute(_RETRY_FAILED, {"task": task, "now": timezone.now()})
        retried = int(cursor.rowcount)
    if not retried:
        raise JobActionRefused(f"no failed job of task {task!r}; list_tasks shows the jobs by task")
    return retried


def delete_jobs(*, status: str, task: str) -> int:
    """Delete every job of `task` in `status`, which no worker may be running; return how many."""
    if check_status(status) in RUNNING:
        raise JobActionRefused(
            f"{status} jobs may be running on a worker and are not deleted; delete jobs that "
            f"are {', '.join(DELETABLE)}"
        )
    with _cursor() as cursor:
        cursor.execute(_DELETE, {"status": status, "task": task})
        deleted = int(cursor.rowcount)
    if not deleted:
        raise JobActionRefused(
            f"no {status} job of task {task!r}; list_tasks shows the jobs by task"
        )
    return deleted
