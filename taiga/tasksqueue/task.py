"""The task object that `@manager.task` returns: defer / defer_sync / configure / defer_many.

Procrastinate's own task accepts keyword arguments only and silently drops positional ones. Here
positional and keyword arguments are bound to the function's signature at defer time, so a call that
would fail in the worker fails where it is made, with the task's name in the error.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from procrastinate import jobs
from procrastinate import tasks as procrastinate_tasks
from procrastinate.contrib.django.django_connector import DjangoConnector

from taiga.tasksqueue import bulk_defer
from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.exceptions import InvalidTaskDefinition, SyncDeferInAsyncContext
from taiga.tasksqueue.serialization import dump_arguments

if TYPE_CHECKING:
    from taiga.tasksqueue.manager import TasksQueueManager

# One item of `defer_many`: a dict of keyword arguments, or a tuple of positional arguments.
CallArguments = Mapping[str, Any] | tuple[Any, ...]


def task_signature(name: str, func: Callable[..., Any], pass_context: bool) -> inspect.Signature:
    """The parameters a job of this task is deferred with (the job context excluded)."""
    parameters = list(inspect.signature(func).parameters.values())
    if pass_context:
        if not parameters:
            raise InvalidTaskDefinition(
                f"Task {name!r} uses pass_context=True but its function takes no argument for "
                "the context; add a first parameter (context: JobContext)."
            )
        parameters = parameters[1:]
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            raise InvalidTaskDefinition(
                f"Task {name!r}: *{parameter.name} is not supported, jobs store named arguments; "
                "take a list argument instead."
            )
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise InvalidTaskDefinition(
                f"Task {name!r}: positional-only parameter {parameter.name!r} is not supported, "
                "the worker calls tasks with keyword arguments; remove the '/'."
            )
    return inspect.Signature(parameters)


def _schedule_in_params(schedule_in: datetime.timedelta | Mapping[str, float] | None) -> Any:
    if isinstance(schedule_in, datetime.timedelta):
        return {"seconds": schedule_in.total_seconds()}
    return dict(schedule_in) if schedule_in is not None else None


def _pick[T](value: T | None, default: T) -> T:
    return default if value is None else value


class Deferrer[**P]:
    """A task with job options set (queue, priority, locks, schedule); see `Task.configure`."""

    def __init__(self, task: Task[P, Any], options: dict[str, Any]) -> None:
        self._task = task
        self._options = options

    def _job_deferrer(self) -> jobs.JobDeferrer:
        task, options = self._task, self._options
        return procrastinate_tasks.configure_task(
            name=task.name,
            job_manager=task.manager.job_manager,
            queue=_pick(options["queue"], task.queue),
            priority=_pick(options["priority"], task.priority),
            lock=_pick(options["lock"], task.lock),
            queueing_lock=_pick(options["queueing_lock"], task.queueing_lock),
            schedule_at=options["schedule_at"],
            schedule_in=_schedule_in_params(options["schedule_in"]),
        )

    def _insert(self, documents: list[str]) -> list[int]:
        deferrer = self._job_deferrer()
        connector = deferrer.job_manager.connector
        if isinstance(connector, DjangoConnector):
            return bulk_defer.insert_jobs(connector, deferrer.job, documents)
        # The test toolkit's in-memory queue, or another connector: Procrastinate's own way.
        return deferrer.batch_defer(*map(json.loads, documents))

    async def _insert_async(self, documents: list[str]) -> list[int]:
        deferrer = self._job_deferrer()
        connector = deferrer.job_manager.connector
        if isinstance(connector, DjangoConnector):
            return await bulk_defer.insert_jobs_async(connector, deferrer.job, documents)
        return await deferrer.batch_defer_async(*map(json.loads, documents))

    async def defer(self, *args: P.args, **kwargs: P.kwargs) -> int:
        """Enqueue one job; returns its id."""
        [job_id] = await self._insert_async([self._task.dump_call(args, kwargs)])
        return job_id

    def defer_sync(self, *args: P.args, **kwargs: P.kwargs) -> int:
        """Enqueue one job from sync code (inside the caller's transaction); returns its id."""
        self._task.refuse_event_loop()
        [job_id] = self._insert([self._task.dump_call(args, kwargs)])
        return job_id

    async def defer_many(self, calls: Iterable[CallArguments]) -> list[int]:
        """Enqueue one job per item, all in one INSERT; returns their ids in order."""
        documents = self._task.dump_calls(calls)
        return await self._insert_async(documents) if documents else []

    def defer_many_sync(self, calls: Iterable[CallArguments]) -> list[int]:
        """Sync `defer_many`."""
        self._task.refuse_event_loop()
        documents = self._task.dump_calls(calls)
        return self._insert(documents) if documents else []


class Task[**P, R]:
    """A function registered as a task. Calling it runs the function inline."""

    def __init__(
        self,
        manager: TasksQueueManager,
        procrastinate_task: procrastinate_tasks.Task[Any, Any, Any],
    ) -> None:
        self.manager = manager
        self.procrastinate_task = procrastinate_task
        self.func: Callable[..., R] = procrastinate_task.func
        self.signature = task_signature(
            procrastinate_task.name, self.func, procrastinate_task.pass_context
        )
        functools.update_wrapper(self, self.func)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    @property
    def name(self) -> str:
        return self.procrastinate_task.name

    @property
    def queue(self) -> str:
        return self.procrastinate_task.queue

    @property
    def priority(self) -> int:
        return self.procrastinate_task.priority

    @property
    def lock(self) -> str | None:
        return self.procrastinate_task.lock

    @property
    def queueing_lock(self) -> str | None:
        return self.procrastinate_task.queueing_lock

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.func(*args, **kwargs)

    def configure(
        self,
        *,
        queue: str | None = None,
        priority: int | None = None,
        lock: str | None = None,
        queueing_lock: str | None = None,
        schedule_at: datetime.datetime | None = None,
        schedule_in: datetime.timedelta | Mapping[str, float] | None = None,
    ) -> Deferrer[P]:
        """Set job options for the next defers; unset options keep the task's defaults."""
        if schedule_at is not None and schedule_in is not None:
            raise ValueError(f"Task {self.name!r}: give schedule_at or schedule_in, not both.")
        if schedule_at is not None and schedule_at.utcoffset() is None:
            raise ValueError(
                f"Task {self.name!r}: schedule_at must be timezone-aware "
                "(use django.utils.timezone.now() + timedelta(...))."
            )
        options = {
            "queue": queue,
            "priority": priority,
            "lock": lock,
            "queueing_lock": queueing_lock,
            "schedule_at": schedule_at,
            "schedule_in": schedule_in,
        }
        return Deferrer(self, options)

    async def defer(self, *args: P.args, **kwargs: P.kwargs) -> int:
        """Enqueue one job with the task's default options; returns its id."""
        return await self.configure().defer(*args, **kwargs)

    def defer_sync(self, *args: P.args, **kwargs: P.kwargs) -> int:
        """Enqueue one job from sync code; returns its id."""
        return self.configure().defer_sync(*args, **kwargs)

    async def defer_many(self, calls: Iterable[CallArguments]) -> list[int]:
        """Enqueue one job per item in one INSERT: each item a dict of keyword arguments or a
        tuple of positional arguments."""
        return await self.configure().defer_many(calls)

    def defer_many_sync(self, calls: Iterable[CallArguments]) -> list[int]:
        """Sync `defer_many`."""
        return self.configure().defer_many_sync(calls)

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Map a call's arguments to parameter names, as the worker will pass them."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"Task {self.name!r} cannot be deferred with these arguments: {exc} "
                f"(its parameters are {self.signature})."
            ) from None
        arguments = dict(bound.arguments)
        for parameter in self.signature.parameters.values():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD and parameter.name in arguments:
                arguments.update(arguments.pop(parameter.name))
        return arguments

    def dump_call(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        return dump_arguments(self.name, self.bind(args, kwargs), tq_settings.MAX_ARGS_BYTES)

    def dump_calls(self, calls: Iterable[CallArguments]) -> list[str]:
        """Each call's arguments as a JSON document; every call is checked before any is kept."""
        max_bytes = tq_settings.MAX_ARGS_BYTES
        documents = []
        for call in calls:
            if isinstance(call, tuple):
                arguments = self.bind(call, {})
            elif isinstance(call, Mapping):
                arguments = self.bind((), call)
            else:
                raise TypeError(
                    f"Task {self.name!r}: defer_many() takes dicts of keyword arguments or tuples "
                    f"of positional arguments, not {type(call).__name__}."
                )
            documents.append(dump_arguments(self.name, arguments, max_bytes))
        return documents

    def refuse_event_loop(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise SyncDeferInAsyncContext(
            f"Task {self.name!r}: defer_sync() was called from async code, where it would block "
            f"the event loop; use `await {self.func.__name__}.defer(...)` instead."
        )
