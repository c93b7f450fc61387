"""System checks of the tasks queue, with stable IDs that tests assert:

- tasksqueue.E001: a module listed in TASKS_MODULES_PATHS cannot be imported.
- tasksqueue.E002: the `tasks` module of an installed app cannot be imported.
- tasksqueue.E003: TASKS_MODULES_PATHS is not a collection of dotted module paths.
- tasksqueue.E004: the heartbeat is not positive, or too slow for the stalled-worker timeout, so
  live workers would be taken for dead and their jobs run twice.
- tasksqueue.E005: a setting's value is of the wrong type.
- tasksqueue.E006: a setting's value is out of its range.
- tasksqueue.E007: PROCRASTINATE_DATABASE_ALIAS names no database of DATABASES.
- tasksqueue.E009: TASKSQUEUE_WORKER_DATABASE_URL is not a connection string libpq can read.
- tasksqueue.W001: workers would LISTEN through the queue's database, which its settings say is
  reached through a pooler in transaction mode (DISABLE_SERVER_SIDE_CURSORS), where LISTEN hears
  nothing.

tasksqueue.E008 (a bad OPTIONS of TasksQueueBackend in TASKS) is the backend's own check
(`taiga.tasksqueue.backends`), which Django's tasks check runs.
"""

from collections.abc import Sequence
from typing import Any

import psycopg
from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from psycopg.conninfo import conninfo_to_dict

from taiga.tasksqueue.conf import TasksQueueSettings, tq_settings
from taiga.tasksqueue.connection_params import behind_transaction_pooler
from taiga.tasksqueue.discovery import discover_task_modules


def check_task_modules(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    setting = TasksQueueSettings.TASKS_MODULES_PATHS.name
    for failure in discover_task_modules(apps.get_app_configs()).failures:
        if failure.app_label is None:
            messages.append(
                Error(
                    f"Module {failure.module!r} listed in {setting} cannot be imported: "
                    f"{failure.error}",
                    hint=f"Fix the module, or remove it from {setting}.",
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


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Every declared setting against its type and range, then the relations between them."""
    messages: list[CheckMessage] = []
    for setting in TasksQueueSettings.declared():
        problem = setting.problem(getattr(settings, setting.name, setting.default))
        if problem is not None:
            check_id, wrong = problem
            messages.append(
                Error(
                    f"{setting.name} {wrong}.",
                    hint=f"It sets {setting.meaning}; the default is {setting.default!r}.",
                    id=check_id,
                )
            )
    if not messages:
        messages += _heartbeat_problems() + _database_alias_problems()
    if not messages:
        messages += _worker_database_problems()
    return messages


def _heartbeat_problems() -> list[CheckMessage]:
    heartbeat = tq_settings.TASKSQUEUE_HEARTBEAT_SECONDS
    stalled_after = tq_settings.TASKSQUEUE_STALLED_AFTER_SECONDS
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


def _database_alias_problems() -> list[CheckMessage]:
    alias = tq_settings.PROCRASTINATE_DATABASE_ALIAS
    if alias in settings.DATABASES:
        return []
    return [
        Error(
            f"PROCRASTINATE_DATABASE_ALIAS ({alias!r}) names no database of DATABASES "
            f"({', '.join(map(repr, settings.DATABASES)) or 'none'}).",
            hint="Set it to the alias of the database that holds the queue's tables.",
            id="tasksqueue.E007",
        )
    ]


def _worker_database_problems() -> list[CheckMessage]:
    url = tq_settings.TASKSQUEUE_WORKER_DATABASE_URL
    if url:
        try:
            conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            # libpq quotes the string it could not read, password included.
            reason = str(exc).replace(url, "...").strip()
            return [
                Error(
                    f"TASKSQUEUE_WORKER_DATABASE_URL is not a connection string libpq can read "
                    f"({reason}).",
                    hint="Set it like postgres://user:password@host:5432/dbname (hosts may be "
                    "listed: host1:5432,host2:5432), or empty for the app's database.",
                    id="tasksqueue.E009",
                )
            ]
        return []
    alias = tq_settings.PROCRASTINATE_DATABASE_ALIAS
    if not behind_transaction_pooler(alias):
        return []
    return [
        Warning(
            f"Workers LISTEN through the database {alias!r}, which DISABLE_SERVER_SIDE_CURSORS "
            "marks as reached through a pooler in transaction mode: LISTEN hears nothing there, "
            "so workers find new jobs only when they poll.",
            hint="Set TASKSQUEUE_WORKER_DATABASE_URL to a direct or session-mode connection, or "
            "run workers with --no-listen to poll on purpose (docs/connections.md).",
            id="tasksqueue.W001",
        )
    ]
