"""An async view: signs a user up with the async ORM and defers the welcome email."""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from taiga.emails.json_requests import BadRequest, email_address, read_object
from taiga.users import services
from taiga.users.tasks import send_welcome_email


# Signing up and verifying act for anonymous callers: there is no session that a forged
# cross-site request could ride on, so CSRF protection would only stop API clients.
@csrf_exempt
@require_POST
async def signup(request: HttpRequest) -> JsonResponse:
    """POST {"username": ..., "email": ...} -> 201 {"job_id": ...} and a welcome email."""
    try:
        payload = read_object(request)
        username, email = _username(payload), email_address(payload)
    except BadRequest as refusal:
        return refusal.response()
    try:
        user = await services.signup(username=username, email=email)
    except IntegrityError:
        return JsonResponse({"error": f"username {username!r} is taken"}, status=409)
    job_id = await send_welcome_email.defer(user.pk)
    return JsonResponse({"job_id": job_id}, status=201)


@csrf_exempt
@require_POST
async def verify(request: HttpRequest, key: str) -> JsonResponse:
    if await services.verify(key):
        return JsonResponse({"verified": True})
    return JsonResponse({"error": "unknown or expired code"}, status=404)


def _username(payload: dict[str, Any]) -> str:
    """`payload["username"]` if User.username accepts it (its length and characters), or
    BadRequest; past them the database refuses it with a 500."""
    value = payload.get("username")
    if not isinstance(value, str):
        raise BadRequest("'username' must be a string")
    try:
        User._meta.get_field("username").clean(value, None)
    except ValidationError as error:
        raise BadRequest(f"'username': {' '.join(error.messages)}") from None
    return value
