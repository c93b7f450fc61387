"""A sync view that defers an email inside the request's transaction."""

import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from taiga.emails.tasks import send_email

TEMPLATES = {"notice", "welcome"}


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


@csrf_exempt
@require_POST
def send(request: HttpRequest) -> JsonResponse:
    """POST {"email": ..., "template": "notice", "context": {...}} -> 202 {"job_id": ...}."""
    try:
        payload: dict[str, Any] = json.loads(request.body)
    except ValueError:
        return _bad_request("the body must be a JSON object")
    email, template = payload.get("email"), payload.get("template", "notice")
    context = payload.get("context", {})
    if not isinstance(email, str) or "@" not in email:
        return _bad_request("'email' must be an email address")
    if template not in TEMPLATES:
        return _bad_request(f"'template' must be one of {sorted(TEMPLATES)}")
    if not isinstance(context, dict):
        return _bad_request("'context' must be an object")
    with transaction.atomic():
        job_id = send_email.defer_sync(email, template, context)
    return JsonResponse({"job_id": job_id}, status=202)
