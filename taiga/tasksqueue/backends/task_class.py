"""The tasks `@task` makes when this backend is theirs, and their place in the worker's registry.

Django 6.1 hands `@task`'s extra keywords to the backend's task class; this one takes `retry`
(Django's API has none yet). Each task is registered once, under its module path, as a task of
Procrastinate's app whose function runs it (`execution.py`), so the worker that runs the
project's own tasks finds it like any other.
"""

from dataclasses import dataclass, field

from django.tasks import Task
from django.tasks.exceptions import InvalidTask
from procrastinate.retry import RetryValue

from taiga.tasksqueue.backends.execution import runner_for
from taiga.tasksqueue.backends.options import retry_problem
from taiga.tasksqueue.backends.results import AnyTask
from taiga.tasksqueue.manager import manager


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTask(AnyTask):
    # None: the backend's OPTIONS["retry"]. Left out of the hash: a strategy may not be hashable.
    retry: RetryValue | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        # A slotted dataclass cannot use super() without arguments.
        Task.__post_init__(self)
        if self.retry is not None and (problem := retry_problem(self.retry)) is not None:
            raise InvalidTask(f"Task {self.module_path!r}: {problem}.")
        register(self)


def register(task: QueueTask) -> None:
    """Make the task runnable by the worker (once; copies from `using()` share the original's)."""
    name = task.module_path
    known = manager.django_tasks.get(name)
    if known is not None and known.func is task.func:
        return
    if known is None and name in manager.app.tasks:
        raise InvalidTask(
            f"Task {name!r} is already a task of taiga.tasksqueue (@manager.task); decorate the "
            "function with one of @manager.task and django.tasks' @task, not both."
        )
    retry = task.retry
    if retry is None:
        # The backend's OPTIONS were checked when the task was validated, just before.
        retry = task.get_backend().options.get("retry", False)
    manager.app.task(name=name, pass_context=True, retry=retry)(runner_for(task))
    manager.django_tasks[name] = task
