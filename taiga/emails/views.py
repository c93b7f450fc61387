"""A sync view that defers an email inside the request's transaction.

Staff only, behind Django's CSRF protection: open to anyone, it would send any text to any address
in the project's name.
"""

from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from taiga.emails.json_requests import (
    BadRequest,
    email_address,
    one_line,
    read_object,
    storable,
)
from taiga.emails.services import render_subject
from taiga.emails.tasks import send_email
from taiga.tasksqueue import ArgumentsTooLarge
from taiga.tasksqueue.conf import tq_settings

TEMPLATES = {"notice", "welcome"}


@require_POST
def send(request: HttpRequest) -> JsonResponse:
    """POST {"email": ..., "template": "notice", "context": {...}} -> 202 {"job_id": ...}."""
    if not request.user.is_staff:
        return JsonResponse({"error": "only staff may send emails: log in first"}, status=403)
    try:
        email, template, context = _read_email(request)
        with transaction.atomic():
            job_id = send_email.defer_sync(email, template, context)
    except BadRequest as refusal:
        return refusal.response()
    except ArgumentsTooLarge:
        limit = tq_settings.TASKSQUEUE_MAX_ARGS_BYTES
        return BadRequest(
            f"'context' is too large: the email's job holds at most {limit} bytes of JSON "
            "(TASKSQUEUE_MAX_ARGS_BYTES)",
            status=413,
        ).response()
    return JsonResponse({"job_id": job_id}, status=202)


def _read_email(request: HttpRequest) -> tuple[str, str, dict[str, Any]]:
    payload = read_object(request)
    email = email_address(payload)
    template = payload.get("template", "notice")
    if not isinstance(template, str) or template not in TEMPLATES:
        raise BadRequest(f"'template' must be one of {sorted(TEMPLATES)}")
    context = payload.get("context", {})
    if not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values()):
        raise BadRequest("'context' must be an object of strings")
    if not all(storable(text) for pair in context.items() for text in pair):
        raise BadRequest("'context' must not contain NUL characters or lone surrogates")
    # A line break in a header is refused when the email is sent, long after the 202.
    if not one_line(render_subject(template, context)):
        raise BadRequest("'context' makes the subject several lines long; it must be one line")
    return email, template, context
