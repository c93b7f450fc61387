import logging

from taiga.emails import services as email_services
from taiga.emails.tasks import SMTP_RETRY
from taiga.tasksqueue.manager import manager as tqmanager
from taiga.users import services

logger = logging.getLogger(__name__)


@tqmanager.task(queue="emails", retry=SMTP_RETRY)
def send_welcome_email(user_id: int) -> None:
    """Email a new account its verification code. The code is looked up here rather than passed
    in: job arguments are kept for days after the job and shown by `tasksqueue shell`."""
    welcome = services.welcome_email(user_id)
    if welcome is None:
        logger.info("User %d has no verification code to send; no welcome email", user_id)
        return
    email, context = welcome
    email_services.send_email(email=email, template="welcome", context=context)


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
