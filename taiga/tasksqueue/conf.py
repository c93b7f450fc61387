"""Typed, lazy view of the tasks queue's Django settings.

Values are read from `django.conf.settings` on every access, never cached, so `override_settings`
in tests takes effect at once. Defaults live here; `taiga/conf/tasksqueue.py` documents them.
"""

from django.conf import settings


class TasksQueueSettings:
    @property
    def TASKS_MODULES_PATHS(self) -> tuple[str, ...]:
        value = getattr(settings, "TASKS_MODULES_PATHS", ())
        if isinstance(value, str | bytes):
            return ()  # a misconfiguration that check tasksqueue.E003 reports
        return tuple(sorted({path for path in value if isinstance(path, str)}))

    @property
    def MAX_ARGS_BYTES(self) -> int:
        return int(getattr(settings, "TASKSQUEUE_MAX_ARGS_BYTES", 1024 * 1024))

    @property
    def DATABASE_ALIAS(self) -> str:
        return str(getattr(settings, "PROCRASTINATE_DATABASE_ALIAS", "default"))


tq_settings = TasksQueueSettings()
