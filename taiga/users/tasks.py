import logging

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.users import services

logger = logging.getLogger(__name__)


@tqmanager.periodic(cron="0 0 * * *")
@tqmanager.task
async def clean_expired_tokens(timestamp: int) -> None:
    deleted = await services.delete_expired_tokens()
    logger.info("Deleted %d expired verification tokens", deleted)


@tqmanager.periodic(cron="0 0 * * *")
@tqmanager.task
def clean_unverified_users(timestamp: int) -> None:
    deleted = services.delete_unverified_users()
    logger.info("Deleted %d unverified users", deleted)
