"""A mail backend whose SMTP server refuses every message, as a greylisting server would."""

import smtplib
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend


class RefusingSMTPBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (451, b"try again later")})
