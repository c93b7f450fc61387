"""What a job's run leaves behind for `tasksqueue_jobattempt` (models.JobAttempt).

The worker records a run's row in the statement that records its outcome, so storing it costs no
round trip of its own. A run gets a row when it failed (any task: its error and traceback) or when
its task asks for one by returning a `StoredReturn` (Django's `django.tasks` tasks do, on every
run, so that their results say which workers ran them and what they returned).
"""

import json
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from procrastinate.jobs import Status

# The key under which a task may leave, in its job context's `additional_context`, a hook for the
# worker to call on its loop once the run's outcome is recorded: (status, retried, record). What
# must not run on the loop it returns: a callable, run in a job thread, or an awaitable.
AFTER_RECORDED = "tasksqueue.after_recorded"
AfterRecorded = Callable[
    [Status, bool, "AttemptRecord | None"], Callable[[], object] | Awaitable[object] | None
]


@dataclass(frozen=True, slots=True)
class StoredReturn:
    """A task's return value to keep with its run (already checked to be JSON)."""

    value: Any


class AttemptRecord(NamedTuple):
    """A run's row; a tuple, so that a batch of them is one JSON array of arrays, in this order
    (the recording statements read the fields by position)."""

    job_id: int
    attempt: int  # 1 for the first run
    worker_id: int | None
    outcome: str  # succeeded, failed or aborted
    error_class: str = ""
    traceback: str = ""
    return_value: Any = None


def class_path(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def error_fields(error: BaseException) -> dict[str, str]:
    """The record's fields for a run that raised `error`."""
    return {
        "error_class": class_path(error),
        "traceback": "".join(traceback.format_exception(error)),
    }


def records_document(records: list[AttemptRecord]) -> str:
    """The records as the JSON array of arrays the recording statements read."""
    return json.dumps(records, separators=(",", ":")) if records else "[]"
