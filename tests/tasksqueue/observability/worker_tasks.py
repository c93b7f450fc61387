"""Tasks run by the real workers of the worker exporter's tests."""

from taiga.tasksqueue.manager import manager as tqmanager


@tqmanager.task
async def succeed() -> None:
    pass


@tqmanager.task(retry=1)
async def fail() -> None:
    raise RuntimeError("this task always fails")


@tqmanager.task
async def later() -> None:
    pass
