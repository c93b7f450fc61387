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
    if settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        messages.append(
            Error(
                "SECRET_KEY is the built-in development key.",
                hint="Set the SECRET_KEY environment variable to a long random value.",
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
