"""`TestTasksQueueManager`: what a test deferred, and a way to run it (see docs/testing.md)."""

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol, Self

from asgiref.sync import async_to_sync
from django.utils import timezone

from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.task import Task
from taiga.tasksqueue.testing.database import DatabaseQueue
from taiga.tasksqueue.testing.inmemory import InMemoryQueue
from taiga.tasksqueue.testing.rows import JobRow
from taiga.tasksqueue.worker.run import periodic_schedules_paused


class JobQueue(Protocol):
    """Where a test's jobs live: Procrastinate's in-memory connector, or PostgreSQL."""

    def activate(self) -> contextlib.AbstractContextManager[None]: ...

    def rows(self) -> list[JobRow]: ...

    def clear(self) -> None: ...

    async def run(self) -> None: ...


class TestTasksQueueManager:
    """The jobs deferred through `taiga.tasksqueue.manager` while `activated()` (the `tqmanager`
    fixture does it for one test), by status, and `run_pending_jobs()` to run them.

    Every property reads the queue afresh and returns snapshots of the rows.
    """

    __test__ = False  # a helper named Test*, not a test class for pytest to collect

    def __init__(self, *, database: bool = False) -> None:
        self.database = database
        self._queue: JobQueue = DatabaseQueue() if database else InMemoryQueue()

    @contextlib.contextmanager
    def activated(self) -> Iterator[Self]:
        """Send the manager's jobs here within the block; the queue is empty at both ends."""
        with self._queue.activate():
            self.reset()
            try:
                yield self
            finally:
                self.reset()

    @property
    def jobs(self) -> dict[int, JobRow]:
        """Every job, by id."""
        return {row["id"]: row for row in self._queue.rows()}

    @property
    def pending_jobs(self) -> list[JobRow]:
        """Jobs to run or running (todo or doing), scheduled ones included."""
        return self._with_status("todo", "doing")

    @property
    def scheduled_jobs(self) -> list[JobRow]:
        """Jobs waiting for a time in the future (a `schedule_in`, or a retry's delay)."""
        now = timezone.now()
        return [
            row
            for row in self._with_status("todo")
            if row["scheduled_at"] is not None and row["scheduled_at"] > now
        ]

    @property
    def finished_jobs(self) -> list[JobRow]:
        """Failed and succeeded jobs."""
        return self._with_status("failed", "succeeded")

    @property
    def failed_jobs(self) -> list[JobRow]:
        return self._with_status("failed")

    @property
    def succeeded_jobs(self) -> list[JobRow]:
        return self._with_status("succeeded")

    @property
    def cancelled_jobs(self) -> list[JobRow]:
        return self._with_status("cancelled")

    def jobs_for(self, task: Task[Any, Any] | str) -> list[JobRow]:
        """The jobs of one task (the task or its name)."""
        name = task if isinstance(task, str) else task.name
        return [row for row in self._queue.rows() if row["task_name"] == name]

    async def run_pending_jobs(self) -> None:
        """Run every job that is due, and the due jobs those defer, one at a time, then return.

        Jobs scheduled in the future (retries with a delay included) stay pending, periodic
        schedules do not fire, and a task's exception fails its job instead of being raised.
        """
        with periodic_schedules_paused(manager.app):
            await self._queue.run()

    def run_pending_jobs_sync(self) -> None:
        """`run_pending_jobs` for sync tests; sync tasks run in the test's thread."""
        async_to_sync(self.run_pending_jobs)()

    def reset(self) -> None:
        """Forget every job."""
        self._queue.clear()

    def _with_status(self, *statuses: str) -> list[JobRow]:
        return [row for row in self._queue.rows() if row["status"] in statuses]
