"""A Django task's result, read from its job, the job's events and its runs' records.

Nothing is written at enqueue beyond the job: the state is the job's status, the times are its
events' (when each run started, when the last one ended), and what the runs left (errors,
tracebacks, the workers, the return value) is in `tasksqueue_jobattempt`. One statement reads them
all. The toolkit's in-memory queue answers the same question from memory (`stored_job` there).
"""

import datetime
import json
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.db import connections
from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.base import TaskError

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.manager import manager

# django-stubs makes both generic; Django's classes are not subscriptable at run time.
if TYPE_CHECKING:
    AnyTask = Task[..., Any]
    AnyResult = TaskResult[Any, Any]
else:
    AnyTask, AnyResult = Task, TaskResult

# Procrastinate's statuses as Django's: a job cancelled before it ran, or aborted while it ran,
# did not succeed.
STATUSES = {
    "todo": TaskResultStatus.READY,
    "doing": TaskResultStatus.RUNNING,
    "succeeded": TaskResultStatus.SUCCESSFUL,
    "failed": TaskResultStatus.FAILED,
    "cancelled": TaskResultStatus.FAILED,
    "aborted": TaskResultStatus.FAILED,
}
ENDED = frozenset({"succeeded", "failed", "cancelled", "aborted"})

_READ_JOB = """
SELECT job.task_name, job.queue_name, job.priority, job.status::text, job.args::text,
       job.scheduled_at, job.worker_id, events.first_started, events.last_started,
       events.last_ended, runs.records::text
  FROM procrastinate_jobs AS job
  LEFT JOIN LATERAL (
      SELECT min(event.at) FILTER (WHERE event.type = 'started') AS first_started,
             max(event.at) FILTER (WHERE event.type = 'started') AS last_started,
             max(event.at) FILTER (
                 WHERE event.type IN ('succeeded', 'failed', 'cancelled', 'aborted')
             ) AS last_ended
        FROM procrastinate_events AS event
       WHERE event.job_id = job.id
  ) AS events ON true
  LEFT JOIN LATERAL (
      SELECT json_agg(
                 json_build_object(
                     'worker_id', run.worker_id, 'outcome', run.outcome,
                     'error_class', run.error_class, 'traceback', run.traceback,
                     'return_value', run.return_value
                 )
                 ORDER BY run.attempt, run.id
             ) AS records
        FROM tasksqueue_jobattempt AS run
       WHERE run.job_id = job.id
  ) AS runs ON true
 WHERE job.id = %(job_id)s
"""


@dataclass(frozen=True)
class RunRecord:
    worker_id: int | None
    outcome: str
    error_class: str
    traceback: str
    return_value: Any


@dataclass(frozen=True)
class StoredJob:
    task_name: str
    queue_name: str
    priority: int
    status: str  # Procrastinate's
    args: dict[str, Any]
    scheduled_at: datetime.datetime | None
    worker_id: int | None
    first_started: datetime.datetime | None = None
    last_started: datetime.datetime | None = None
    last_ended: datetime.datetime | None = None
    runs: list[RunRecord] = field(default_factory=list)

    @property
    def errors(self) -> list[TaskError]:
        return [
            TaskError(exception_class_path=run.error_class, traceback=run.traceback)
            for run in self.runs
            if run.error_class
        ]

    @property
    def worker_ids(self) -> list[str]:
        """One per run: those recorded, and the one running now."""
        ids = [worker_label(run.worker_id) for run in self.runs]
        if self.status == "doing":
            ids.append(worker_label(self.worker_id))
        return ids

    @property
    def return_value(self) -> Any:
        return next(
            (run.return_value for run in reversed(self.runs) if run.outcome == "succeeded"), None
        )


class JobSource(Protocol):
    """Where jobs live when they are not in PostgreSQL (the test toolkit's in-memory queue)."""

    def stored_job(self, job_id: int) -> StoredJob | None: ...


def worker_label(worker_id: int | None) -> str:
    """A run's worker as Django's `worker_ids` hold it: Procrastinate's worker id, as text."""
    return "" if worker_id is None else str(worker_id)


def read_job(job_id: int) -> StoredJob | None:
    """The job with this id, wherever the queue's jobs live now; None if there is none."""
    replacement = manager.inserter.replacement
    if replacement is not None:
        if not hasattr(replacement, "stored_job"):
            return None  # a connector swapped in that keeps no jobs of its own
        return cast(JobSource, replacement).stored_job(job_id)
    with connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor() as cursor:
        cursor.execute(_READ_JOB, {"job_id": job_id})
        row = cursor.fetchone()
    if row is None:
        return None
    (task_name, queue, priority, status, args, scheduled_at, worker_id, *times, records) = row
    return StoredJob(
        task_name=task_name,
        queue_name=queue,
        priority=priority,
        status=status,
        args=json.loads(args),
        scheduled_at=scheduled_at,
        worker_id=worker_id,
        first_started=times[0],
        last_started=times[1],
        last_ended=times[2],
        runs=[RunRecord(**run) for run in json.loads(records or "[]")],
    )


def unfinished_result(
    task: AnyTask,
    *,
    status: TaskResultStatus,
    enqueued_at: datetime.datetime | None,
    started_at: datetime.datetime | None,
    args: Any,
    kwargs: Any,
    backend: str,
    worker_ids: list[str],
    result_id: str = "",
    from_json: bool = False,
) -> AnyResult:
    """A result that has not ended and has no error yet: READY at enqueue, RUNNING in a run.

    `from_json`: the arguments were read back from the job's JSON, so they are what Django's
    constructor would make of them; it is skipped, its normalization being most of the cost of
    building a run's result (about 5 us a run)."""
    values = {
        "task": task,
        "id": result_id,
        "status": status,
        "enqueued_at": enqueued_at,
        "started_at": started_at,
        "last_attempted_at": started_at,
        "finished_at": None,
        "args": args,
        "kwargs": kwargs,
        "backend": backend,
        "errors": [],
        "worker_ids": worker_ids,
    }
    if not from_json:
        return TaskResult(**values)
    result: AnyResult = object.__new__(TaskResult)
    for name, default, factory in _FIELDS:
        if name not in values:
            values[name] = default if factory is MISSING else factory()
        object.__setattr__(result, name, values[name])
    return result


# Every field of Django's TaskResult, with its default and default factory.
_FIELDS = [(each.name, each.default, each.default_factory) for each in fields(TaskResult)]


def to_task_result(stored: StoredJob, job_id: int, task: AnyTask, backend: str) -> AnyResult:
    """Django's view of the stored job; `task` is the Django task it runs."""
    enqueued_at = stored.args.get("enqueued_at")
    result = TaskResult(
        task=task,
        id=str(job_id),
        status=STATUSES[stored.status],
        enqueued_at=datetime.datetime.fromisoformat(enqueued_at) if enqueued_at else None,
        started_at=stored.first_started,
        last_attempted_at=stored.last_started,
        finished_at=stored.last_ended if stored.status in ENDED else None,
        args=stored.args.get("args", []),
        kwargs=stored.args.get("kwargs", {}),
        backend=backend,
        errors=stored.errors,
        worker_ids=stored.worker_ids,
    )
    if result.status == TaskResultStatus.SUCCESSFUL:
        object.__setattr__(result, "_return_value", stored.return_value)
    return result
