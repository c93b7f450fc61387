"""One log line when a job starts and one when it ends: task, job id, queue, attempt, duration and
outcome, as `key=value` pairs an operator can grep; the same values are in the record's `job`,
with the worker's id and the duration in seconds, for formatters that write fields
(observability/json_logs.py). A job that fails for good also carries its traceback."""

import asyncio
import logging
import sys
import threading
import time
from types import CodeType
from typing import Any

from procrastinate.jobs import Job

from taiga.tasksqueue.text import first_line
from taiga.tasksqueue.worker import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)

# Longest error message a job's end line carries.
MAX_ERROR_CHARS = 500

OUTCOME_LEVELS = {
    "succeeded": logging.INFO,
    "retry": logging.WARNING,
    "aborted": logging.WARNING,
    "failed": logging.ERROR,
}


# The values are formatted by the handlers, only for the records they keep.
_STARTED = "job started task=%s id=%s queue=%s attempt=%s"
_ENDED = "job ended task=%s id=%s queue=%s attempt=%s duration=%.3fs outcome=%s"
_ENDED_WITH_ERROR = f"{_ENDED} error=%s"


class JobLog:
    """Logs the jobs of one worker and knows which ones are running, so that a worker stopped at
    once can say which ones it left."""

    def __init__(self, worker_name: str | None = None) -> None:
        self.running: dict[int, Job] = {}
        self.worker_name = worker_name  # HOST:PID by default (worker/options.py)

    def started(self, job: Job, job_id: int) -> None:
        self.running[job_id] = job
        # Built only when the line is kept: a busy worker runs thousands of jobs a second.
        if logger.isEnabledFor(logging.INFO):
            _log(logging.INFO, _STARTED, _job_fields(job, job_id), self.worker_name, job.worker_id)

    def ended(
        self,
        job: Job,
        job_id: int,
        started: float,  # time.time() when it started
        outcome: str,
        error: str = "",
        traceback_of: BaseException | None = None,
    ) -> None:
        del self.running[job_id]
        level = OUTCOME_LEVELS[outcome]
        if not logger.isEnabledFor(level):
            return
        fields = _job_fields(job, job_id)
        fields["duration"] = time.time() - started
        fields["outcome"] = outcome
        if error:
            fields["error"] = error
        if traceback_of is not None:
            logger.log(
                level,
                _ENDED_WITH_ERROR,
                *fields.values(),
                extra={"job": {**fields, "worker": self.worker_name, "worker_id": job.worker_id}},
                exc_info=traceback_of,
            )
        else:
            message = _ENDED_WITH_ERROR if error else _ENDED
            _log(level, message, fields, self.worker_name, job.worker_id)


def describe_error(error: BaseException) -> str:
    """The error's type and first line, cut short: a task may raise a message of any size."""
    text = type(error).__name__
    message = first_line(error) if str(error).strip() else ""
    if len(message) > MAX_ERROR_CHARS:
        message = f"{message[:MAX_ERROR_CHARS]}… ({len(message) - MAX_ERROR_CHARS} more)"
    return f"{text}: {message}" if message else text


def _job_fields(job: Job, job_id: int) -> dict[str, Any]:
    # `attempts` counts the attempts before this one.
    return {"task": job.task_name, "id": job_id, "queue": job.queue, "attempt": job.attempts + 1}


# What is the same for every job record from one line of this module in one thread: the caller's
# file, function and line, the thread, the process. LogRecord's constructor looks these up for every
# record, about a third of a job line's cost (`python -m benchmarks.tools.micro`); here a record
# copies them.
_templates: dict[tuple[CodeType, int], dict[str, Any]] = {}


def _log(
    level: int, message: str, fields: dict[str, Any], worker: str | None, worker_id: int | None
) -> None:
    """`logger.log(level, message, *fields.values(), extra={"job": fields + the worker's name and
    id})`, for less. The name is what `status` and the dashboard show; the id changes at each
    restart after an outage.

    The record goes through the logger's filters and handlers as any other. With a record factory
    of the project's own, whose values may change from record to record, it is made by the factory.
    """
    if logging.getLogRecordFactory() is not logging.LogRecord:
        job = {**fields, "worker": worker, "worker_id": worker_id}
        logger.log(level, message, *fields.values(), extra={"job": job}, stacklevel=2)
        return
    caller = sys._getframe(1)
    key = (caller.f_code, threading.get_ident())
    template = _templates.get(key)
    if template is None:
        first = logger.makeRecord(
            logger.name,
            level,
            caller.f_code.co_filename,
            caller.f_lineno,
            "",
            (),
            None,
            func=caller.f_code.co_name,
        )
        template = _templates[key] = dict(first.__dict__)
    record = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__.update(template)
    now = time.time_ns()
    record.created = now / 1e9
    record.msecs = (now % 1_000_000_000) // 1_000_000 + 0.0
    record.relativeCreated = (
        template["relativeCreated"] + (record.created - template["created"]) * 1000
    )
    record.levelno = level
    record.levelname = logging.getLevelName(level)
    record.msg = message
    record.args = tuple(fields.values())
    record.job = {**fields, "worker": worker, "worker_id": worker_id}
    if getattr(logging, "logAsyncioTasks", True):
        task = _current_task()
        record.taskName = task.get_name() if task is not None else None
    logger.handle(record)


def _current_task() -> "asyncio.Task[Any] | None":
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop running in this thread
        return None
