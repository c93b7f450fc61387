"""`TasksQueueManager` and the module-level `manager` that task modules decorate with.

The manager builds on Procrastinate's Django integration: tasks are registered on its app (which
owns the schema through Django migrations), and jobs are deferred through the Django connection, so
a defer inside `transaction.atomic()` commits or rolls back with the rest of the transaction. The
API is async first: `open()` is async and `open_sync()` is its sync twin.
"""

import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Literal, Self, TypedDict, Unpack, overload

from django.apps import apps
from procrastinate import App, connector, utils
from procrastinate import retry as retry_module
from procrastinate.contrib.django import app as django_app
from procrastinate.jobs import DEFAULT_PRIORITY, DEFAULT_QUEUE
from procrastinate.manager import JobManager

from taiga.tasksqueue.defer.arguments import TaskArguments
from taiga.tasksqueue.defer.insert import JobInserter
from taiga.tasksqueue.defer.options import JobOptions
from taiga.tasksqueue.definition import check_job_options, check_periodic, task_signature
from taiga.tasksqueue.discovery import Discovery, discover_task_modules
from taiga.tasksqueue.exceptions import InvalidTaskDefinition
from taiga.tasksqueue.task import Task


class TaskOptions(TypedDict, total=False):
    """Procrastinate's task options, passed through unchanged."""

    name: str
    aliases: list[str]
    retry: retry_module.RetryValue
    queue: str
    priority: int
    lock: str | None
    queueing_lock: str | None
    task_middleware: list[Any]


class PeriodicOptions(TypedDict, total=False):
    """Job options of the jobs a periodic schedule defers."""

    queue: str
    priority: int
    lock: str | None
    queueing_lock: str | None


class TasksQueueManager:
    def __init__(self) -> None:
        self.tasks: dict[str, Task[Any, Any]] = {}
        # Tasks of Django's `django.tasks` that this app's backend runs, by module path
        # (`taiga.tasksqueue.backends`).
        self.django_tasks: dict[str, Any] = {}
        self.discovery = Discovery(modules=(), failures=())
        self.inserter = JobInserter()

    @property
    def app(self) -> App:
        """Procrastinate's app (a proxy that is usable once Django's apps are ready)."""
        return django_app

    @property
    def job_manager(self) -> JobManager:
        """Procrastinate's job manager on the queue's database, through Django's connection."""
        return self.inserter.job_manager

    @contextlib.contextmanager
    def use_connector(self, replacement: connector.BaseConnector) -> Iterator[Self]:
        """Send defers and the app's queries to `replacement` within the block (test toolkit)."""
        with self.inserter.replaced_by(replacement), self.app.replace_connector(replacement):
            yield self

    def discover(self) -> Discovery:
        """Import every task module (see `taiga.tasksqueue.discovery`); failures are recorded."""
        self.discovery = discover_task_modules(apps.get_app_configs())
        return self.discovery

    # Registering tasks ---------------------------------------------------------------------------

    @overload
    def task[**P, R](self, func: Callable[P, R]) -> Task[P, R]: ...

    @overload
    def task[**P, R](
        self, *, pass_context: Literal[False] = False, **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    @overload
    def task[R](
        self, *, pass_context: Literal[True], **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[..., R]], Task[..., R]]: ...

    def task(
        self,
        func: Callable[..., Any] | None = None,
        *,
        pass_context: bool = False,
        **options: Any,
    ) -> Any:
        """Register a function as a task: `@manager.task` or `@manager.task(queue=..., ...)`.

        Every Procrastinate task option is accepted (name, aliases, retry, pass_context, queue,
        priority, lock, queueing_lock, task_middleware).
        """

        def register(function: Callable[..., Any]) -> Task[Any, Any]:
            name = options.get("name") or utils.get_full_path(function)
            # Checked before Procrastinate registers anything, so a bad definition leaves no trace.
            arguments = TaskArguments(name, task_signature(name, function, pass_context))
            job_options = JobOptions(
                queue=options.get("queue", DEFAULT_QUEUE),
                priority=options.get("priority", DEFAULT_PRIORITY),
                lock=options.get("lock"),
                queueing_lock=options.get("queueing_lock"),
            )
            check_job_options(name, job_options)
            # Options are Procrastinate's own (TaskOptions), forwarded untouched.
            decorator: Any = self.app.task(pass_context=pass_context, **options)  # type: ignore[call-overload]
            task: Task[Any, Any] = Task(decorator(function), arguments, self.inserter, job_options)
            self.tasks[task.name] = task
            return task

        return register(func) if func is not None else register

    def periodic[**P, R](
        self, *, cron: str, periodic_id: str = "", **options: Unpack[PeriodicOptions]
    ) -> Callable[[Task[P, R]], Task[P, R]]:
        """Defer the task on a cron schedule; stack it above `@manager.task`.

        The task receives `timestamp` (the scheduled time, in seconds since the epoch).
        """

        def register(task: Task[P, R]) -> Task[P, R]:
            if not isinstance(task, Task):
                raise InvalidTaskDefinition(
                    f"@periodic(cron={cron!r}) must be stacked above @manager.task, "
                    f"not applied to {task!r}."
                )
            check_periodic(task.name, task.signature, cron)
            self.app.periodic(cron=cron, periodic_id=periodic_id, **options)(
                task.procrastinate_task
            )
            return task

        return register

    # Opening and closing -------------------------------------------------------------------------

    def open(self) -> utils.AwaitableContext[Self]:
        """Open the connector: `await manager.open()` or `async with manager.open(): ...`."""
        return utils.AwaitableContext(
            open_coro=self.app.connector.open_async,
            close_coro=self.close,
            return_value=self,
        )

    async def close(self) -> None:
        await self.app.connector.close_async()

    def open_sync(self) -> Self:
        """Open the connector from sync code; `with manager.open_sync(): ...` closes it after."""
        self.app.connector.get_sync_connector().open()
        return self

    def close_sync(self) -> None:
        self.app.connector.get_sync_connector().close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close_sync()


manager = TasksQueueManager()
