"""`TasksQueueBackend`: Django's `django.tasks` backend on this queue (see docs/django-tasks.md).

A task enqueued here is a row of `procrastinate_jobs` named after the task's module path, with
`{"args": [...], "kwargs": {...}, "enqueued_at": "..."}` as its arguments; `tasksqueue worker`
runs it next to the project's own tasks. Its result is read back from the job (`results.py`).
Enqueueing inside a transaction is part of it (the job goes if the transaction rolls back), unless
`OPTIONS["enqueue_on_commit"]` asks for Django's advice instead: store it once the transaction
commits (its id is reserved at once, so the returned result has it).
"""

import functools
import json
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.core import checks
from django.db import connections, transaction
from django.tasks import Task, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, InvalidTaskBackend, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django.utils.module_loading import import_string

from taiga.tasksqueue.backends.execution import as_enqueued
from taiga.tasksqueue.backends.options import parse_options
from taiga.tasksqueue.backends.results import (
    AnyResult,
    AnyTask,
    read_job,
    to_task_result,
    unfinished_result,
)
from taiga.tasksqueue.backends.signals import send, send_from_loop
from taiga.tasksqueue.backends.task_class import QueueTask
from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.defer.arguments import dump_arguments
from taiga.tasksqueue.defer.options import JobOptions
from taiga.tasksqueue.exceptions import ArgumentNotSerializable
from taiga.tasksqueue.manager import manager

MAX_TASK_NAME = 128  # procrastinate_jobs.task_name is a varchar(128)
MAX_JOB_ID = 2**63 - 1


class TasksQueueBackend(BaseTaskBackend):
    task_class = QueueTask

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.settings, self.problem = parse_options(alias, self.options)

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        if self.problem is None:
            return []
        return [checks.Error(self.problem, id="tasksqueue.E008", obj=f"TASKS[{self.alias!r}]")]

    def validate_task(self, task: AnyTask) -> None:
        if self.problem is not None:
            raise InvalidTaskBackend(self.problem)
        super().validate_task(task)
        name = task.module_path
        if len(name) > MAX_TASK_NAME:
            raise InvalidTask(
                f"Task {name!r}: its module path is over {MAX_TASK_NAME} characters, the "
                "longest task name the queue stores; move it to a shorter module path."
            )
        problem = _options(task).problem()
        if problem is not None:
            raise InvalidTask(f"Task {name!r}: {problem}.")

    # Enqueueing ------------------------------------------------------------------------------

    def enqueue(self, task: AnyTask, args: Any, kwargs: Any) -> AnyResult:
        self.validate_task(task)
        result, document = self._ready_result(task, args, kwargs)
        alias = tq_settings.PROCRASTINATE_DATABASE_ALIAS
        if self.settings.enqueue_on_commit and connections[alias].in_atomic_block:
            job_id = manager.inserter.reserve_job_id()
            object.__setattr__(result, "id", str(job_id))
            transaction.on_commit(
                functools.partial(self._store, result, document, job_id), using=alias
            )
        else:
            self._store(result, document)
        return result

    async def aenqueue(self, task: AnyTask, args: Any, kwargs: Any) -> AnyResult:
        if self.settings.enqueue_on_commit:
            # The transaction it waits for is a sync one, in Django's thread-sensitive thread.
            return await sync_to_async(self.enqueue)(task, args, kwargs)
        self.validate_task(task)
        result, document = self._ready_result(task, args, kwargs)
        [job_id] = await manager.inserter.insert_async(task.module_path, _options(task), document)
        object.__setattr__(result, "id", str(job_id))
        await send_from_loop(task_enqueued, type(self), task_result=result)
        return result

    def _store(self, result: AnyResult, document: str, job_id: int | None = None) -> None:
        task = result.task
        [stored_id] = manager.inserter.insert(
            task.module_path, _options(task), document, job_id=job_id
        )
        object.__setattr__(result, "id", str(stored_id))
        send(task_enqueued, type(self), task_result=result)

    def _ready_result(self, task: AnyTask, args: Any, kwargs: Any) -> tuple[AnyResult, str]:
        """The READY result (its id set once the job is stored), and the job's arguments."""
        name = task.module_path
        try:
            result = unfinished_result(
                task,
                status=TaskResultStatus.READY,
                enqueued_at=timezone.now(),
                started_at=None,
                args=args,
                kwargs=kwargs,
                backend=self.alias,
                worker_ids=[],
            )
        except (TypeError, ValueError) as exc:  # what Django's normalize_json refuses
            raise ArgumentNotSerializable(
                f"Task {name!r} cannot be enqueued: an argument cannot be stored as JSON ({exc}); "
                "pass JSON values (str, int, float, bool, None, lists and dicts of them), e.g. "
                "an id rather than an object."
            ) from None
        assert result.enqueued_at is not None
        arguments = {
            "args": result.args,
            "kwargs": result.kwargs,
            "enqueued_at": result.enqueued_at.isoformat(),
        }
        document = dump_arguments(name, arguments, tq_settings.TASKSQUEUE_MAX_ARGS_BYTES)
        if json.loads(document) != arguments:
            raise ArgumentNotSerializable(
                f"Task {name!r} cannot be enqueued: its arguments would come back changed from "
                "JSON (a dict with keys that are not strings?); use string keys."
            )
        return result, document

    # Results ---------------------------------------------------------------------------------

    def get_result(self, result_id: Any) -> AnyResult:
        text = str(result_id)
        job_id = int(text) if text.isascii() and text.isdigit() else None
        stored = read_job(job_id) if job_id is not None and job_id <= MAX_JOB_ID else None
        if job_id is None or stored is None:
            raise TaskResultDoesNotExist(f"No result with id {result_id!r}: no such job.")
        task = _django_task(stored.task_name)
        if task is None:
            raise TaskResultDoesNotExist(
                f"No result with id {result_id!r}: job {job_id} runs {stored.task_name!r}, "
                "which is not a django.tasks task this process can import."
            )
        task = as_enqueued(task, stored.queue_name, stored.priority, stored.scheduled_at)
        return to_task_result(stored, job_id, task, self.alias)


def _options(task: AnyTask) -> JobOptions:
    return JobOptions(
        queue=task.queue_name,
        priority=task.priority,
        lock=None,
        queueing_lock=None,
        schedule_at=task.run_after,
    )


def _django_task(name: str) -> AnyTask | None:
    known: AnyTask | None = manager.django_tasks.get(name)
    if known is not None:
        return known
    try:
        found = import_string(name)
    except ImportError:
        return None
    return cast(AnyTask, found) if isinstance(found, Task) else None
