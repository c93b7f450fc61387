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

    @property
    def RESCUE_ENABLED(self) -> bool:
        return bool(getattr(settings, "TASKSQUEUE_RESCUE_ENABLED", True))

    @property
    def STALLED_AFTER_SECONDS(self) -> float:
        return float(getattr(settings, "TASKSQUEUE_STALLED_AFTER_SECONDS", 60.0))

    @property
    def HEARTBEAT_SECONDS(self) -> float:
        return float(getattr(settings, "TASKSQUEUE_HEARTBEAT_SECONDS", 10.0))

    @property
    def MAX_RESCUES(self) -> int:
        return int(getattr(settings, "TASKSQUEUE_MAX_RESCUES", 3))

    @property
    def RETENTION_ENABLED(self) -> bool:
        return bool(getattr(settings, "TASKSQUEUE_RETENTION_ENABLED", True))

    @property
    def RETENTION_SUCCEEDED_DAYS(self) -> float:
        return float(getattr(settings, "TASKSQUEUE_RETENTION_SUCCEEDED_DAYS", 7.0))

    @property
    def RETENTION_FAILED_DAYS(self) -> float:
        return float(getattr(settings, "TASKSQUEUE_RETENTION_FAILED_DAYS", 30.0))

    @property
    def RETENTION_BATCH_SIZE(self) -> int:
        return int(getattr(settings, "TASKSQUEUE_RETENTION_BATCH_SIZE", 1000))


tq_settings = TasksQueueSettings()
