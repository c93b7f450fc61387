"""Django's `django.tasks` on this queue: `TASKS = {"default": {"BACKEND":
"taiga.tasksqueue.backends.TasksQueueBackend"}}` (see docs/django-tasks.md).

    backend.py     TasksQueueBackend: validation, enqueue, get_result
    task_class.py  QueueTask (`@task(retry=...)`), registered for the worker
    execution.py   a task's run in the worker: its result, signals and return value
    results.py     a result read back from the job, its events and its runs' records
    options.py     the backend's OPTIONS
"""

from taiga.tasksqueue.backends.backend import TasksQueueBackend
from taiga.tasksqueue.backends.task_class import QueueTask

__all__ = ["QueueTask", "TasksQueueBackend"]
