import smtplib
from typing import Any

from taiga.emails import services
from taiga.tasksqueue import RetryStrategy
from taiga.tasksqueue.manager import manager as tqmanager

# SMTP servers fail transiently (greylisting, restarts); a missing template or bad context will not
# get better by retrying, so only SMTP and network errors are retried. A server that is down
# refuses the connection, an OSError that is no SMTPException.
SMTP_RETRY = RetryStrategy(
    max_attempts=5, exponential_wait=2, retry_exceptions={smtplib.SMTPException, OSError}
)


@tqmanager.task(queue="emails", retry=SMTP_RETRY)
def send_email(email: str, template: str, context: dict[str, Any]) -> None:
    services.send_email(email=email, template=template, context=context)
