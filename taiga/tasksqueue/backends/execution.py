"""A Django task's run in the worker: its `TaskResult`, the two signals, its return value.

The job's arguments are `{"args": [...], "kwargs": {...}, "enqueued_at": "..."}`. The function
registered for a Django task (`runner_for`) builds the run's `TaskResult` (RUNNING), sends
`task_started`, calls the task (with a `TaskContext` first when it takes one) and returns its
value as a `StoredReturn`, which the worker stores with the outcome. It leaves a hook in the job's
context that the worker calls once the outcome is recorded: it sends `task_finished`, so that a
receiver reading the result (`get_result`) finds what the signal says.

A first run needs nothing from the database: its result is built from the job. A later run (a
retry) reads the earlier runs' errors and workers first, one query.
"""

import datetime
import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from asgiref.sync import sync_to_async
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.tasks import TaskContext, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json
from procrastinate import JobContext
from procrastinate.jobs import Status

from taiga.tasksqueue.backends.results import (
    AnyResult,
    AnyTask,
    read_job,
    unfinished_result,
    worker_label,
)
from taiga.tasksqueue.backends.signals import observed, send, send_directly, send_from_loop
from taiga.tasksqueue.worker.jobs.attempts import AFTER_RECORDED, AttemptRecord, StoredReturn


def as_enqueued(task: AnyTask, queue_name: str, priority: int, run_after: Any) -> AnyTask:
    """The task as its job stores it (a retry may have moved it to another queue or priority)."""
    if (task.queue_name, task.priority, task.run_after) == (queue_name, priority, run_after):
        return task
    try:
        return replace(task, queue_name=queue_name, priority=priority, run_after=run_after)
    except InvalidTask:  # values this backend would not accept from a user: keep the task's own
        return task


def stored_value(task: AnyTask, value: Any) -> StoredReturn:
    """The return value as JSON stores it; a value that does not round-trip fails the run."""
    if value is None:
        return StoredReturn(None)
    try:
        normalized = normalize_json(value)
        same = json.loads(json.dumps(normalized, allow_nan=False)) == normalized
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"Task {task.module_path!r} returned a value that cannot be stored as JSON ({exc}); "
            "return JSON values (str, int, float, bool, None, lists and dicts of them)."
        ) from exc
    if not same:
        raise TypeError(
            f"Task {task.module_path!r} returned a value that JSON would change (a dict with "
            "keys that are not strings?); return JSON values (str, int, float, bool, None, "
            "lists and dicts with string keys)."
        )
    return StoredReturn(normalized)


# The class of each alias's backend, which Django's signals name as their sender. Django's handler
# keeps a backend per thread (a thread-local lookup of about 10 us): looked up once per settings.
_senders: dict[str, type] = {}


@receiver(setting_changed)
def _forget_senders(*, setting: str, **kwargs: Any) -> None:
    if setting == "TASKS":
        _senders.clear()


def sender_of(task: AnyTask) -> type:
    sender = _senders.get(task.backend)
    if sender is None:
        sender = _senders[task.backend] = type(task.get_backend())
    return sender


class DjangoRun:
    """One run: its RUNNING `TaskResult`, built when something reads it (a task that takes its
    context, or a signal that has an effect: see `signals.observed`)."""

    def __init__(
        self,
        task: AnyTask,
        context: JobContext,
        args: list[Any],
        kwargs: dict[str, Any],
        enqueued_at: str | None,
        is_async: bool,
    ) -> None:
        job = context.job
        assert job.id is not None
        self.task = task
        self.job = job
        self.job_id = job.id
        self.args = args
        self.kwargs = kwargs
        self.enqueued_at = enqueued_at
        self.started_at = timezone.now()
        self.sender = sender_of(task)
        self.later_run = job.attempts > 0
        self.is_async = is_async
        self._result: AnyResult | None = None
        self._return_value: Any = None

    @property
    def result(self) -> AnyResult:
        if self._result is None:
            job, enqueued_at = self.job, self.enqueued_at
            self._result = unfinished_result(
                as_enqueued(self.task, job.queue, job.priority, job.scheduled_at),
                result_id=str(self.job_id),
                status=TaskResultStatus.RUNNING,
                enqueued_at=datetime.datetime.fromisoformat(enqueued_at) if enqueued_at else None,
                started_at=self.started_at,
                args=self.args,
                kwargs=self.kwargs,
                backend=self.task.backend,
                worker_ids=[worker_label(job.worker_id)],
                from_json=True,
            )
        return self._result

    def load_history(self) -> None:
        """The earlier runs' errors and workers, and when the first one started."""
        stored = read_job(self.job_id)
        if stored is None:
            return
        result = self.result
        object.__setattr__(result, "errors", stored.errors)
        object.__setattr__(result, "worker_ids", stored.worker_ids)
        object.__setattr__(result, "started_at", stored.first_started or result.started_at)

    def call_args(self) -> list[Any]:
        if self.task.takes_context:
            return [TaskContext(task_result=self.result), *self.args]
        return self.args

    def started(self) -> bool:
        """Whether `task_started` has anything to do; the caller sends it."""
        return observed(task_started, logging.INFO)

    def returned(self, value: Any) -> StoredReturn:
        stored = stored_value(self.task, value)
        self._return_value = stored.value
        return stored

    def ended(self, status: TaskResultStatus, record: AttemptRecord | None) -> AnyResult:
        result = self.result
        if record is not None and record.error_class:
            result.errors.append(
                TaskError(exception_class_path=record.error_class, traceback=record.traceback)
            )
        object.__setattr__(result, "status", status)
        if status == TaskResultStatus.SUCCESSFUL:
            object.__setattr__(result, "_return_value", self._return_value)
        if status != TaskResultStatus.READY:
            object.__setattr__(result, "finished_at", timezone.now())
        return result

    def finished(
        self, status: Status, retried: bool, record: AttemptRecord | None
    ) -> Callable[[], object] | Awaitable[object] | None:
        """The hook the worker calls on its loop once the outcome is stored: `task_finished`
        is sent there when that is safe (`signals.py`); otherwise what sends it is returned, to
        be run in a job thread (sync tasks, as `task_started` was) or awaited (async tasks)."""
        if retried:
            final = TaskResultStatus.READY
        elif status == Status.SUCCEEDED:
            final = TaskResultStatus.SUCCESSFUL
        else:
            final = TaskResultStatus.FAILED
        level = logging.ERROR if final == TaskResultStatus.FAILED else logging.INFO
        if not observed(task_finished, level):
            return None
        result = self.ended(final, record)
        if send_directly(task_finished, self.sender, task_result=result):
            return None
        if self.is_async:
            return task_finished.asend(self.sender, task_result=result)
        return functools.partial(task_finished.send, self.sender, task_result=result)


def runner_for(task: AnyTask) -> Callable[..., Any]:
    """The function the worker runs for the task's jobs (with the job's context first)."""
    func = task.func
    if inspect.iscoroutinefunction(func):

        async def run_async(
            context: JobContext,
            args: list[Any],
            kwargs: dict[str, Any],
            enqueued_at: str | None = None,
        ) -> StoredReturn:
            run = DjangoRun(task, context, args, kwargs, enqueued_at, True)
            if run.later_run:
                await sync_to_async(run.load_history)()
            context.additional_context[AFTER_RECORDED] = run.finished
            if run.started():
                await send_from_loop(task_started, run.sender, task_result=run.result)
            return run.returned(await func(*run.call_args(), **kwargs))

        return run_async

    def run_sync(
        context: JobContext, args: list[Any], kwargs: dict[str, Any], enqueued_at: str | None = None
    ) -> StoredReturn:
        run = DjangoRun(task, context, args, kwargs, enqueued_at, False)
        if run.later_run:
            run.load_history()
        context.additional_context[AFTER_RECORDED] = run.finished
        if run.started():
            send(task_started, run.sender, task_result=run.result)
        return run.returned(func(*run.call_args(), **kwargs))

    return run_sync
