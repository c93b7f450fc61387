"""The job rows the test toolkit reports: the columns of `procrastinate_jobs`, in both modes."""

import datetime
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from taiga.tasksqueue.observability.tracing import split_trace


class JobRow(TypedDict):
    id: int
    queue_name: str
    task_name: str
    priority: int
    lock: str | None
    queueing_lock: str | None
    args: dict[str, Any]
    status: str  # todo, doing, succeeded, failed, cancelled, aborted
    scheduled_at: datetime.datetime | None
    attempts: int
    abort_requested: bool
    worker_id: int | None


JOB_COLUMNS: tuple[str, ...] = tuple(JobRow.__annotations__)


def to_job_row(source: Mapping[str, Any]) -> JobRow:
    """A copy of `source` with exactly the JobRow keys, so a test holds a snapshot, never a row
    the worker goes on changing; its arguments without a traced defer's context."""
    row = {column: source[column] for column in JOB_COLUMNS}
    row["args"] = split_trace(row["args"])[0]
    return cast(JobRow, row)
