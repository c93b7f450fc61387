"""Deployment checks: `manage.py check --deploy` refuses the settings that are only safe locally.

The container's entrypoint runs `check --deploy --fail-level ERROR`, so only errors stop a deploy:
each unsafe setting below is an error with its own stable ID.
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def check_production_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    checks = (_secret_key_error, _debug_error, _allowed_hosts_error)
    return [error for check in checks if (error := check()) is not None]


def _secret_key_error() -> Error | None:
    from taiga.conf.settings import DEVELOPMENT_SECRET_KEY

    key = str(settings.SECRET_KEY)
    if key == DEVELOPMENT_SECRET_KEY:
        problem = "is the built-in development key"
    elif key.startswith("django-insecure-") or len(key) < 50 or len(set(key)) < 5:
        # The same test as Django's security.W009, made an error: a guessable key signs sessions.
        problem = "is weak (under 50 characters, few distinct ones, or 'django-insecure-')"
    else:
        return None
    return Error(
        f"SECRET_KEY {problem}.",
        hint="Set the SECRET_KEY environment variable to a long random value, e.g. from "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
        id="taiga.E001",
    )


def _debug_error() -> Error | None:
    if not settings.DEBUG:
        return None
    return Error(
        "DEBUG is on: error pages show settings and source code to every visitor.",
        hint="Unset DEBUG (or set DEBUG=false) in production.",
        id="taiga.E002",
    )


def _allowed_hosts_error() -> Error | None:
    if "*" not in settings.ALLOWED_HOSTS:
        return None
    return Error(
        "ALLOWED_HOSTS contains '*': any Host header is accepted, so links built from it "
        "(password resets, absolute URLs) can point to an attacker's site.",
        hint="Set ALLOWED_HOSTS to the host names the app is served under, "
        "e.g. ALLOWED_HOSTS=tasks.example.com.",
        id="taiga.E003",
    )
