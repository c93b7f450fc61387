"""Finding and importing the modules that define tasks.

Every process (web, worker, tests) imports the same modules in the same order: the `tasks` module
of each installed app in INSTALLED_APPS order, then TASKS_MODULES_PATHS sorted. An import that fails
is recorded, not raised, so the system checks can name the module and the setting instead of
crashing start-up with a traceback from somewhere else.
"""

import importlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import AppConfig
from django.utils.module_loading import module_has_submodule

from taiga.tasksqueue.conf import TasksQueueSettings, tq_settings


@dataclass(frozen=True)
class ImportFailure:
    module: str
    app_label: str | None  # None: listed in TASKS_MODULES_PATHS
    error: str


@dataclass(frozen=True)
class Discovery:
    modules: tuple[str, ...]
    failures: tuple[ImportFailure, ...]


def listed_modules() -> list[str]:
    """TASKS_MODULES_PATHS sorted; none while it is not a collection of paths (E003 says so)."""
    value = tq_settings.TASKS_MODULES_PATHS
    if TasksQueueSettings.TASKS_MODULES_PATHS.problem(value) is not None:
        return []
    return sorted(set(value))


def _candidates(app_configs: Iterable[AppConfig]) -> list[tuple[str, str | None]]:
    candidates: list[tuple[str, str | None]] = []
    for app_config in app_configs:
        if module_has_submodule(app_config.module, "tasks"):
            candidates.append((f"{app_config.name}.tasks", app_config.label))
    known = {module for module, _ in candidates}
    candidates.extend((path, None) for path in listed_modules() if path not in known)
    return candidates


def discover_task_modules(app_configs: Iterable[AppConfig]) -> Discovery:
    modules: list[str] = []
    failures: list[ImportFailure] = []
    for module, app_label in _candidates(app_configs):
        try:
            importlib.import_module(module)
        except Exception as exc:
            failures.append(ImportFailure(module, app_label, f"{type(exc).__name__}: {exc}"))
        else:
            modules.append(module)
    return Discovery(modules=tuple(modules), failures=tuple(failures))
