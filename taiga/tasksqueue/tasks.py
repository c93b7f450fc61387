"""The built-in maintenance jobs, found like any app's tasks module.

Settings are read when each job runs, so they can be changed without touching the schedules.
"""

import logging

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.ops import rescue, retention

logger = logging.getLogger(__name__)

# A lock keeps two runs from overlapping, deferred by hand or by the schedule; the schedule's
# queueing lock keeps at most one run waiting.
RESCUE_LOCK = "tasksqueue.maintenance.rescue"
RETENTION_LOCK = "tasksqueue.maintenance.retention"


@tqmanager.periodic(cron="* * * * *", lock=RESCUE_LOCK, queueing_lock=RESCUE_LOCK)
@tqmanager.task(name="tasksqueue.rescue_stalled_jobs", lock=RESCUE_LOCK)
async def rescue_stalled_jobs(timestamp: int) -> None:
    if not tq_settings.TASKSQUEUE_RESCUE_ENABLED:
        return
    await rescue.rescue_stalled_jobs(
        stalled_after=tq_settings.TASKSQUEUE_STALLED_AFTER_SECONDS,
        max_rescues=tq_settings.TASKSQUEUE_MAX_RESCUES,
    )


@tqmanager.periodic(cron="17 * * * *", lock=RETENTION_LOCK, queueing_lock=RETENTION_LOCK)
@tqmanager.task(name="tasksqueue.delete_finished_jobs", lock=RETENTION_LOCK)
def delete_finished_jobs(timestamp: int) -> None:
    if not tq_settings.TASKSQUEUE_RETENTION_ENABLED:
        return
    deleted = retention.delete_finished_jobs(
        succeeded_days=tq_settings.TASKSQUEUE_RETENTION_SUCCEEDED_DAYS,
        failed_days=tq_settings.TASKSQUEUE_RETENTION_FAILED_DAYS,
        batch_size=tq_settings.TASKSQUEUE_RETENTION_BATCH_SIZE,
    )
    logger.info("Deleted %d finished jobs past their retention age", deleted)
