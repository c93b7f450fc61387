"""An async view: signs a user up with the async ORM and defers the welcome email."""

import json

from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from taiga.emails.tasks import send_email
from taiga.users import services


@csrf_exempt
@require_POST
async def signup(request: HttpRequest) -> JsonResponse:
    """POST {"username": ..., "email": ...} -> 201 {"job_id": ...} and a welcome email."""
    try:
        payload = json.loads(request.body)
        username, email = str(payload["username"]), str(payload["email"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "send a JSON object with username and email"}, status=400)
    try:
        token = await services.signup(username=username, email=email)
    except IntegrityError:
        return JsonResponse({"error": f"username {username!r} is taken"}, status=409)
    job_id = await send_email.defer(email, "welcome", {"username": username, "token": token.key})
    return JsonResponse({"job_id": job_id}, status=201)


@csrf_exempt
@require_POST
async def verify(request: HttpRequest, key: str) -> JsonResponse:
    if await services.verify(key):
        return JsonResponse({"verified": True})
    return JsonResponse({"error": "unknown or expired code"}, status=404)
