from django.apps import AppConfig
from django.core import checks


class TasksQueueConfig(AppConfig):
    name = "taiga.tasksqueue"
    label = "tasksqueue"
    verbose_name = "Tasks queue"

    def ready(self) -> None:
        from taiga.tasksqueue.checks import check_heartbeat, check_task_modules
        from taiga.tasksqueue.manager import manager

        checks.register(check_task_modules, "tasksqueue")
        checks.register(check_heartbeat, "tasksqueue")
        manager.discover()
