import smtplib
from typing import Any

from taiga.emails import services
from taiga.tasksqueue import RetryStrategy
from taiga.tasksqueue.manager import manager as tqmanager

# SMTP servers fail transiently (greylisting, restarts); a missing template or bad context will not
# get better by retrying, so only SMTP errors are retried.
SMTP_RETRY = RetryStrategy(
    max_attempts=5, exponential_wait=2, retry_exceptions={smtplib.SMTPException}
)


@tqmanager.task(queue="emails", retry=SMTP_RETRY)
def send_email(email: str, template: str, context: dict[str, Any]) -> None:
    services.send_email(email=email, template=template, context=context)
