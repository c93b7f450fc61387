"""Reading the JSON body of a sample view's request, with one-line errors naming the field.

Anything a view does not refuse here reaches the database or a mail header, where bad input turns
into a 500 or into a job that can never succeed.
"""

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, JsonResponse

# The length of Django's EmailField, so of User.email.
EMAIL_MAX_LENGTH = 254


class BadRequest(Exception):
    """A request a view refuses, with the status and the one-line message to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> JsonResponse:
        return JsonResponse({"error": str(self)}, status=self.status)


def read_object(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest."""
    try:
        body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raise BadRequest(
            f"the body is over {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)", status=413
        ) from None
    try:
        payload = json.loads(body)
    # RecursionError: arrays or objects nested a few thousand deep.
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
    return payload


def email_address(payload: dict[str, Any], field: str = "email") -> str:
    """`payload[field]` as an address that can go in a To: header, or BadRequest."""
    value = payload.get(field)
    message = f"{field!r} must be an email address of at most {EMAIL_MAX_LENGTH} characters"
    # Django's validator lets control characters through in a quoted local part ("a\vb"@x.org),
    # and a line break of any kind in a header makes the email unsendable.
    if not isinstance(value, str) or len(value) > EMAIL_MAX_LENGTH or not value.isprintable():
        raise BadRequest(message)
    try:
        validate_email(value)
    except ValidationError:
        raise BadRequest(message) from None
    return value


def storable(text: str) -> bool:
    """Whether PostgreSQL can store `text`: no NUL, and no lone surrogate (which a JSON body can
    hold as an escape, and UTF-8 cannot encode)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def one_line(text: str) -> bool:
    """Whether `text` holds no line break of any kind that Python's email headers refuse."""
    return len(text.splitlines()) <= 1
