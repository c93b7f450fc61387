"""Tasks of Django's `django.tasks`, run by this app's backend in the tests."""

import os
from typing import Any

from django.tasks import TaskContext, default_task_backend, task
from procrastinate import RetryStrategy

from taiga.tasksqueue.manager import manager as tqmanager


@task
def add(a: int, b: int = 0) -> int:
    return a + b


@task
def noop() -> None:
    pass


@task
async def double(value: int) -> int:
    return value * 2


@task
def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"args": list(args), "kwargs": kwargs}


@task
def fail(message: str) -> None:
    raise ValueError(message)


@task
async def fail_async(message: str) -> None:
    raise ValueError(message)


@task
def complex_exception() -> None:
    raise ValueError(ValueError("This task failed"))


@task
def exit_task() -> None:
    raise SystemExit(3)


@task
def unstorable_return() -> object:
    return object()


@task
def int_keys_return() -> dict[int, str]:
    return {1: "one"}


@task(takes_context=True)
def with_context(context: TaskContext, value: str) -> dict[str, Any]:
    return {"attempt": context.attempt, "id": context.task_result.id, "value": value}


# django-stubs does not know yet that Django 6.1 passes @task's extra keywords to the task class.
@task(takes_context=True, retry=RetryStrategy(max_attempts=2))  # type: ignore[call-overload, untyped-decorator]
def flaky(context: TaskContext) -> dict[str, Any]:
    if context.attempt < 3:
        raise RuntimeError(f"attempt {context.attempt} fails")
    return {"attempt": context.attempt, "workers": len(context.task_result.worker_ids)}


@task(takes_context=True, retry=1)  # type: ignore[call-overload, untyped-decorator]
async def flaky_async(context: TaskContext) -> int:
    if context.attempt == 1:
        raise RuntimeError("first attempt fails")
    return context.attempt


@task(takes_context=True)
def observe_itself(context: TaskContext) -> dict[str, Any]:
    """What another reader sees of this task while it runs."""
    seen = default_task_backend.get_result(context.task_result.id)
    return {
        "status": seen.status,
        "worker_ids": seen.worker_ids,
        "started": seen.started_at is not None,
        "finished": seen.finished_at is not None,
    }


@task
def fails_until(marker: str) -> str:
    """Fails while the file `marker` does not exist (a job to retry once it does)."""
    if not os.path.exists(marker):
        raise RuntimeError(f"{marker} is not there yet")
    return "done"


@task(queue_name="reports", priority=10)
def report(name: str) -> str:
    return f"report {name}"


# A project task next to them: one worker runs both kinds.
@tqmanager.task
def plain_fail(message: str) -> None:
    raise LookupError(message)
