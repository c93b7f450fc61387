"""The web app's state exporter and health endpoints.

`/metrics` opens to a scraper that sends the bearer token of TASKSQUEUE_METRICS_TOKEN or to a
logged-in staff user: 401 without credentials or with a wrong token, 403 for anyone else logged
in. The health endpoints answer anyone, in JSON: load balancers and Kubernetes probes send no
credentials, and they say nothing a stranger could use (states, never the checks' details).
"""

import hmac
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.observability.state_metrics import exposition
from taiga.tasksqueue.ops.status import database_and_schema
from taiga.tasksqueue.ops.status_checks import State

logger = logging.getLogger(__name__)

BEARER = "bearer "


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    header = request.headers.get("Authorization", "")
    if header:
        token = tq_settings.TASKSQUEUE_METRICS_TOKEN
        given = header[len(BEARER) :].strip() if header.lower().startswith(BEARER) else ""
        # In constant time: how much of a guess matched must not show in the answer's delay.
        if token and hmac.compare_digest(given.encode(), token.encode()):
            return None
        return _unauthorized("wrong bearer token")
    user = getattr(request, "user", None)  # None without Django's authentication middleware
    if user is None or not user.is_authenticated:
        return _unauthorized("send the bearer token of TASKSQUEUE_METRICS_TOKEN, or log in")
    if not user.is_staff:
        return JsonResponse({"error": "staff only"}, status=403)
    return None


def _unauthorized(error: str) -> HttpResponse:
    response = JsonResponse({"error": error}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="tasksqueue"'
    return response


@require_safe
@never_cache
def live(request: HttpRequest) -> HttpResponse:
    """The process answers requests; nothing else is asked (a restart would not mend the rest)."""
    return JsonResponse({"status": "live"})


@require_safe
@never_cache
def ready(request: HttpRequest) -> HttpResponse:
    """The queue's database answers and its schema (Procrastinate's and this app's migrations)
    is applied: the status report's first two checks."""
    database, schema = database_and_schema()
    failing = [check for check in (database, schema) if check.state is not State.OK]
    for check in failing:
        if check.state is State.FAIL:
            logger.warning("not ready: %s: %s; %s", check.name, check.summary, check.fix)
    return JsonResponse(
        {
            "status": "unavailable" if failing else "ready",
            "checks": {database.name: database.state, schema.name: schema.state},
        },
        status=503 if failing else 200,
    )
