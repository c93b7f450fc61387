"""The app's wiring: system checks, the reset of cached state on setting changes, discovery."""

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.signals import setting_changed


class TasksQueueConfig(AppConfig):
    name = "taiga.tasksqueue"
    label = "tasksqueue"
    verbose_name = "Tasks queue"

    def ready(self) -> None:
        from taiga.tasksqueue.checks import check_settings, check_task_modules
        from taiga.tasksqueue.manager import manager

        checks.register(check_task_modules, "tasksqueue")
        checks.register(check_settings, "tasksqueue")
        setting_changed.connect(_reset_cached_state, dispatch_uid="tasksqueue.settings")
        manager.discover()


def _reset_cached_state(*, setting: str, **kwargs: Any) -> None:
    from taiga.tasksqueue.manager import manager

    if setting in ("PROCRASTINATE_DATABASE_ALIAS", "DATABASES"):
        manager.inserter.reset()
