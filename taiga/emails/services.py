"""Rendering and sending emails with Django's mail API."""

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


def render_subject(template: str, context: dict[str, Any]) -> str:
    """`emails/<template>.subject.txt` rendered with `context`, as the email's Subject: header."""
    return render_to_string(f"emails/{template}.subject.txt", context).strip()


def send_email(email: str, template: str, context: dict[str, Any]) -> None:
    """Render `emails/<template>.subject.txt` and `.body.txt` with `context` and send them."""
    body = render_to_string(f"emails/{template}.body.txt", context)
    send_mail(render_subject(template, context), body, settings.DEFAULT_FROM_EMAIL, [email])
