"""The task object that `@manager.task` returns: defer / defer_sync / configure / defer_many.

A `Task` carries its job options as a value; `configure()` returns a new `Task` with some replaced
(as Django's `Task.using()` does), so `task.configure(queue="slow").defer_sync(...)` leaves `task`
as it was.
"""

import asyncio
import copy
import functools
import inspect
import logging
from collections.abc import Callable, Coroutine, Generator, Iterable
from typing import Any, Self, Unpack

from procrastinate import tasks as procrastinate_tasks

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.defer.arguments import CallArguments, TaskArguments
from taiga.tasksqueue.defer.insert import JobInserter
from taiga.tasksqueue.defer.options import JobOptions, OptionChanges
from taiga.tasksqueue.exceptions import SyncDeferInAsyncContext

logger = logging.getLogger(__name__)


class Task[**P, R]:
    """A function registered as a task. Calling it runs the function inline."""

    def __init__(
        self,
        procrastinate_task: procrastinate_tasks.Task[Any, Any, Any],
        arguments: TaskArguments,
        inserter: JobInserter,
        options: JobOptions,
    ) -> None:
        self.procrastinate_task = procrastinate_task
        self.arguments = arguments
        self.inserter = inserter
        self.func: Callable[..., R] = procrastinate_task.func
        self.options = options
        functools.update_wrapper(self, self.func)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    @property
    def name(self) -> str:
        return self.procrastinate_task.name

    @property
    def queue(self) -> str:
        return self.options.queue

    @property
    def priority(self) -> int:
        return self.options.priority

    @property
    def lock(self) -> str | None:
        return self.options.lock

    @property
    def queueing_lock(self) -> str | None:
        return self.options.queueing_lock

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.func(*args, **kwargs)

    def configure(self, **changes: Unpack[OptionChanges]) -> Self:
        """This task with job options for its defers (queue, priority, lock, queueing_lock,
        schedule_at, schedule_in); options not given stay as they are."""
        configured = copy.copy(self)
        configured.options = self.options.replaced(self.name, **changes)
        return configured

    def defer(self, *args: P.args, **kwargs: P.kwargs) -> "Deferral[int]":
        """Enqueue one job: `job_id = await task.defer(...)`."""
        return Deferral(self._defer(args, kwargs), self, "defer")

    async def _defer(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        document = self.arguments.encode(args, kwargs, tq_settings.TASKSQUEUE_MAX_ARGS_BYTES)
        [job_id] = await self.inserter.insert_async(self.name, self.options, document)
        return job_id

    def defer_sync(self, *args: P.args, **kwargs: P.kwargs) -> int:
        """Enqueue one job from sync code (inside the caller's transaction); returns its id."""
        self._refuse_event_loop()
        document = self.arguments.encode(args, kwargs, tq_settings.TASKSQUEUE_MAX_ARGS_BYTES)
        [job_id] = self.inserter.insert(self.name, self.options, document)
        return job_id

    def defer_many(self, calls: Iterable[CallArguments]) -> "Deferral[list[int]]":
        """Enqueue one job per item in one INSERT: each item a dict of keyword arguments or a
        tuple of positional arguments. `await` it for their ids, in order."""
        return Deferral(self._defer_many(calls), self, "defer_many")

    async def _defer_many(self, calls: Iterable[CallArguments]) -> list[int]:
        batch = self.arguments.encode_many(calls, tq_settings.TASKSQUEUE_MAX_ARGS_BYTES)
        if not batch.size:
            return []
        return await self.inserter.insert_async(self.name, self.options, batch.document, many=True)

    def defer_many_sync(self, calls: Iterable[CallArguments]) -> list[int]:
        """Sync `defer_many`."""
        self._refuse_event_loop()
        batch = self.arguments.encode_many(calls, tq_settings.TASKSQUEUE_MAX_ARGS_BYTES)
        if not batch.size:
            return []
        return self.inserter.insert(self.name, self.options, batch.document, many=True)

    @property
    def signature(self) -> inspect.Signature:
        return self.arguments.signature

    def _refuse_event_loop(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise SyncDeferInAsyncContext(
            f"Task {self.name!r}: defer_sync() was called from async code, where it would block "
            f"the event loop; use `await {self.func.__name__}.defer(...)` instead."
        )


class Deferral[T](Coroutine[Any, Any, T]):
    """What `defer()` returns: a coroutine (await it, or hand it to `asyncio.create_task`) that
    defers when it runs.

    Called from sync code without `await` (the usual slip of anyone used to Procrastinate's or
    Celery's sync `defer`), a coroutine would be dropped and the job silently never deferred;
    Python's "never awaited" warning is easy to miss in production. Dropped unawaited, this logs an
    error naming the task and the fix.
    """

    __slots__ = ("_awaited", "_coroutine", "_func_name", "_method", "_task_name")

    def __init__(
        self, coroutine: Coroutine[Any, Any, T], task: "Task[..., Any]", method: str
    ) -> None:
        self._coroutine = coroutine
        self._task_name = task.name
        self._func_name = task.func.__name__
        self._method = method
        self._awaited = False

    def __await__(self) -> Generator[Any, None, T]:
        self._awaited = True
        return self._coroutine.__await__()

    def send(self, value: Any) -> Any:
        self._awaited = True
        return self._coroutine.send(value)

    def throw(self, *args: Any) -> Any:
        self._awaited = True
        return self._coroutine.throw(*args)

    def close(self) -> None:
        self._awaited = True  # closed on purpose
        self._coroutine.close()

    def __del__(self) -> None:
        if self._awaited:
            return
        self._coroutine.close()  # nothing ran: no job, and no second warning from Python
        logger.error(
            "Task %r: %s() was called without `await`, so no job was deferred; write "
            "`await %s.%s(...)` in async code, or `%s.%s_sync(...)` in sync code.",
            self._task_name,
            self._method,
            self._func_name,
            self._method,
            self._func_name,
            self._method,
        )
