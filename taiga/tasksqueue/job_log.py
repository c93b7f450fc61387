"""One log line when a job starts and one when it ends: task, job id, queue, attempt, duration and
outcome, as `key=value` pairs an operator can grep; the same values are in the record's `job`."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from procrastinate import JobContext, exceptions
from procrastinate.jobs import Job
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker

from taiga.tasksqueue.database import first_line
from taiga.tasksqueue.discovery import SETTING

logger = logging.getLogger("taiga.tasksqueue.worker")

# Longest error message a job's end line carries.
MAX_ERROR_CHARS = 500

OUTCOME_LEVELS = {
    "succeeded": logging.INFO,
    "retry": logging.WARNING,
    "aborted": logging.WARNING,
    "failed": logging.ERROR,
}


def _outcome(error: BaseException, context: JobContext) -> str:
    """What the worker will record, decided the way Procrastinate decides it (a job interrupted by
    a stopping worker is retried: see `taiga.tasksqueue.retry`)."""
    task = context.app.tasks.get(context.job.task_name)
    if task is not None and task.get_retry_exception(exception=error, job=context.job):
        return "retry"
    if isinstance(error, asyncio.CancelledError | exceptions.JobAborted):
        return "aborted"
    return "failed"


class JobLog:
    """A Procrastinate worker middleware: it wraps every job, sync or async, on the event loop.

    It also knows which jobs are running, so a worker stopped at once can say which ones it left.
    """

    def __init__(self) -> None:
        self.running: dict[int, Job] = {}

    async def __call__(self, call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
        job = context.job
        assert job.id is not None  # a fetched job always has its id
        fields = _job_fields(job.task_name, job.id, job.queue, job.attempts)
        logger.info("job started %s", _pairs(fields), extra={"job": fields})
        self.running[job.id] = job
        started = time.monotonic()
        outcome, error = "succeeded", ""
        try:
            return await call_next()
        except BaseException as exc:
            outcome, error = _outcome(exc, context), _describe(exc)
            raise
        finally:
            del self.running[job.id]
            _log_ended(fields, time.monotonic() - started, outcome, error)


def _describe(error: BaseException) -> str:
    """The error's type and first line, cut short: a task may raise a message of any size."""
    text = type(error).__name__
    message = first_line(error) if str(error).strip() else ""
    if len(message) > MAX_ERROR_CHARS:
        message = f"{message[:MAX_ERROR_CHARS]}… ({len(message) - MAX_ERROR_CHARS} more)"
    return f"{text}: {message}" if message else text


def _job_fields(task: str, job_id: int, queue: str, attempts: int) -> dict[str, Any]:
    # `attempts` counts the attempts before this one.
    return {"task": task, "id": job_id, "queue": queue, "attempt": attempts + 1}


def _log_ended(fields: dict[str, Any], duration: float, outcome: str, error: str) -> None:
    ended = {**fields, "duration": f"{duration:.3f}s", "outcome": outcome}
    if error:
        ended["error"] = error
    logger.log(OUTCOME_LEVELS[outcome], "job ended %s", _pairs(ended), extra={"job": ended})


def _pairs(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in fields.items())


class UnknownTaskLog(logging.Filter):
    """A job whose task no loaded module defines never reaches the middleware (Procrastinate looks
    the task up first) and Procrastinate logs it twice, with tracebacks that point into its own
    code. This filter drops both records and logs one `job ended` line that names the fix."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.exc_info and isinstance(record.exc_info[1], exceptions.TaskNotFound)):
            return True
        # Procrastinate's logging guide suggests filters like this one, matching on the `action`
        # extra; the job's fields come from its `job` extra (Job.log_context()).
        job = getattr(record, "job", None)
        if getattr(record, "action", None) == "job_error" and isinstance(job, dict):
            fields = _job_fields(job["task_name"], job["id"], job["queue"], job["attempts"])
            duration = float(getattr(record, "duration", None) or 0.0)
            error = f"TaskNotFound: no loaded module defines it; add its module to {SETTING}"
            _log_ended(fields, duration, "failed", error)
        return False


@contextlib.contextmanager
def unknown_tasks_logged_once(worker_name: str) -> Iterator[None]:
    """Install UnknownTaskLog on the loggers of Procrastinate's worker for the block."""
    log_filter = UnknownTaskLog()
    # Procrastinate logs a job's outcome on its module's logger, and the rest on a child logger
    # named after the worker; a filter applies only to records made on its own logger.
    loggers = [logging.getLogger("procrastinate.worker")]
    loggers.append(loggers[0].getChild(worker_name))
    for procrastinate_logger in loggers:
        procrastinate_logger.addFilter(log_filter)
    try:
        yield
    finally:
        for procrastinate_logger in loggers:
            procrastinate_logger.removeFilter(log_filter)
