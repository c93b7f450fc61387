"""Rendering and sending emails with Django's mail API."""

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


def send_email(email: str, template: str, context: dict[str, Any]) -> None:
    """Render `emails/<template>.subject.txt` and `.body.txt` with `context` and send them."""
    subject = render_to_string(f"emails/{template}.subject.txt", context).strip()
    body = render_to_string(f"emails/{template}.body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
