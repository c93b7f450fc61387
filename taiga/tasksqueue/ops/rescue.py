"""Rescue: jobs left in "doing" by workers that stopped heartbeating go back to the queue.

Runs as a periodic job (`taiga.tasksqueue.tasks`) and can be called directly. The other ways a job
is recovered are in docs/architecture.md ("Recovery").
"""

import logging
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from procrastinate import sql

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.ops.stalled import (
    LOCK_IF_STILL_STALLED,
    heartbeat_cutoff,
    list_stalled_jobs,
    retry_at_once,
)

logger = logging.getLogger(__name__)

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
    alias = tq_settings.PROCRASTINATE_DATABASE_ALIAS
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        since = heartbeat_cutoff(stalled_after)
        cursor.execute(LOCK_IF_STILL_STALLED, {"job_id": job_id, "since": since})
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
            retry_at_once(cursor, job_id)
    return rescues


async def rescue_stalled_jobs(*, stalled_after: float, max_rescues: int) -> RescueReport:
    """Retry the jobs left in "doing" by workers silent for `stalled_after` seconds.

    A job rescued `max_rescues` times is marked failed on its next stall instead: a job that kills
    every worker that runs it must not go on killing workers.
    """
    report = RescueReport()
    for job_id, task_name in await sync_to_async(list_stalled_jobs)(stalled_after):
        rescues = await sync_to_async(_rescue)(
            job_id, stalled_after=stalled_after, max_rescues=max_rescues
        )
        if rescues is None:
            continue
        if rescues > max_rescues:
            logger.error("Job %s (%s) failed: %s", job_id, task_name, _give_up_reason(max_rescues))
            report.failed.append(job_id)
        else:
            logger.warning(
                "Job %s (%s) rescued from a stalled worker (rescue %d of %d)",
                job_id,
                task_name,
                rescues,
                max_rescues,
            )
            report.retried.append(job_id)
    return report
