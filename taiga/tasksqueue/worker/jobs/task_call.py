"""How the worker calls a job's task: inside the task's middleware (resolved once per task, not
per job), inside the worker's middleware, and for a sync task in a thread, awaited."""

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import job_context, middleware
from procrastinate.tasks import Task
from procrastinate.worker import Worker

# How a sync task's call is run off the event loop: in a thread, awaited.
ThreadRunner = Callable[[Callable[[], Any]], Awaitable[Any]]

# How a task is called: whether it is async, and the middleware around it, outermost first.
Call = tuple[bool, list[middleware.TaskMiddleware]]


class TaskCalls:
    def __init__(self, worker: Worker, run_in_thread: ThreadRunner) -> None:
        self.worker = worker
        self.run_in_thread = run_in_thread
        self._calls: dict[str, Call] = {}

    async def run(self, task: Task[Any, Any, Any], context: job_context.JobContext) -> Any:
        """The task's return value for this job; what it raises, raised."""
        is_async, task_middleware = self._call_of(task)
        job_args = (context,) if task.pass_context else ()
        kwargs = context.job.task_kwargs
        worker = self.worker

        async def run_async() -> Any:
            return await task(*job_args, **kwargs)

        async def run_sync() -> Any:
            chain = middleware.compose(
                task_middleware, lambda: task(*job_args, **kwargs), context, worker
            )
            return await self.run_in_thread(chain)

        run: Callable[[], Any] = (
            middleware.compose(task_middleware, run_async, context, worker)
            if is_async
            else run_sync
        )
        if worker.worker_middleware:
            run = middleware.compose(worker.worker_middleware, run, context, worker)
        result = await run()
        # A sync function may return an awaitable; Procrastinate awaits it too.
        if inspect.isawaitable(result):
            return await result
        return result

    def _call_of(self, task: Task[Any, Any, Any]) -> Call:
        call = self._calls.get(task.name)
        if call is None:
            is_async = inspect.iscoroutinefunction(task.func)
            call = self._calls[task.name] = (
                is_async,
                self.worker._resolve_task_middlewares(task, is_async),
            )
        return call
