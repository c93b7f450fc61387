"""Deployment checks: `manage.py check --deploy` refuses the settings that are only safe locally."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    from taiga.conf.settings import DEVELOPMENT_SECRET_KEY

    messages: list[CheckMessage] = []
    key = str(settings.SECRET_KEY)
    if key == DEVELOPMENT_SECRET_KEY:
        problem = "is the built-in development key"
    elif key.startswith("django-insecure-") or len(key) < 50 or len(set(key)) < 5:
        # The same test as Django's security.W009, made an error: a guessable key signs sessions.
        problem = "is weak (under 50 characters, few distinct ones, or 'django-insecure-')"
    else:
        problem = ""
    if problem:
        messages.append(
            Error(
                f"SECRET_KEY {problem}.",
                hint="Set the SECRET_KEY environment variable to a long random value, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
                id="taiga.E001",
            )
        )
    if settings.DEBUG:
        messages.append(
            Warning(
                "DEBUG is on: error pages show settings and source code to every visitor.",
                hint="Unset DEBUG (or set DEBUG=false) in production.",
                id="taiga.W001",
            )
        )
    return messages
