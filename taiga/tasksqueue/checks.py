"""System checks of the tasks queue.

IDs are stable; tests assert them:
- tasksqueue.E001: a module listed in TASKS_MODULES_PATHS cannot be imported.
- tasksqueue.E002: the `tasks` module of an installed app cannot be imported.
- tasksqueue.E003: TASKS_MODULES_PATHS is not a collection of dotted module paths.
- tasksqueue.E004: the heartbeat is too slow for the stalled-worker timeout, so live workers
  would be taken for dead and their jobs run twice.
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.discovery import SETTING, discover_task_modules


def check_task_modules(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    paths = getattr(settings, SETTING, ())
    if isinstance(paths, str | bytes) or not all(isinstance(path, str) for path in paths):
        return [
            Error(
                f"{SETTING} must be a set of dotted module paths, got {paths!r}.",
                hint=f'Write it as a set, e.g. {SETTING} = {{"myapp.tasks"}}.',
                id="tasksqueue.E003",
            )
        ]
    discovery = discover_task_modules(apps.get_app_configs(), paths)
    messages: list[CheckMessage] = []
    for failure in discovery.failures:
        if failure.app_label is None:
            messages.append(
                Error(
                    f"Module {failure.module!r} listed in {SETTING} cannot be imported: "
                    f"{failure.error}",
                    hint=f"Fix the module, or remove it from {SETTING}.",
                    id="tasksqueue.E001",
                )
            )
        else:
            messages.append(
                Error(
                    f"The tasks module {failure.module!r} of app {failure.app_label!r} cannot be "
                    f"imported: {failure.error}",
                    hint="Fix the module; workers cannot run its tasks until it imports.",
                    id="tasksqueue.E002",
                )
            )
    return messages


def check_heartbeat(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    heartbeat, stalled_after = tq_settings.HEARTBEAT_SECONDS, tq_settings.STALLED_AFTER_SECONDS
    if heartbeat > 0 and heartbeat * 3 <= stalled_after:
        return []
    return [
        Error(
            f"TASKSQUEUE_HEARTBEAT_SECONDS ({heartbeat:g}) must be positive and at most a third "
            f"of TASKSQUEUE_STALLED_AFTER_SECONDS ({stalled_after:g}).",
            hint="Otherwise live workers look dead and their jobs are run twice; "
            "lower the heartbeat or raise the stalled timeout.",
            id="tasksqueue.E004",
        )
    ]
