"""Tasks used by the tests of the task API (imported by the tests, like any task module)."""

from typing import Any

from taiga.tasksqueue import JobContext
from taiga.tasksqueue.manager import manager as tqmanager


@tqmanager.task
def add(a: int, b: int = 0) -> int:
    return a + b


@tqmanager.task(
    name="tests.custom_name",
    aliases=["tests.old_name"],
    queue="reports",
    priority=5,
    lock="report-lock",
    queueing_lock="report-queueing-lock",
    retry=3,
)
def configured(report_id: int) -> None:
    pass


@tqmanager.task(pass_context=True)
def with_context(context: JobContext, value: str) -> str:
    return f"{context.job.id}:{value}"


@tqmanager.task
def with_extra(first: int, **extra: Any) -> None:
    pass


@tqmanager.task
async def double(value: int) -> int:
    return value * 2
