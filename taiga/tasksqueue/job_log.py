"""One log line when a job starts and one when it ends: task, job id, queue, attempt, duration and
outcome, as `key=value` pairs an operator can grep; the same values are in the record's `job`.
A job that fails for good also carries its traceback."""

import logging
import time
from typing import Any

from procrastinate.jobs import Job

from taiga.tasksqueue.database import first_line

logger = logging.getLogger("taiga.tasksqueue.worker")

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
_ENDED = "job ended task=%s id=%s queue=%s attempt=%s duration=%s outcome=%s"
_ENDED_WITH_ERROR = f"{_ENDED} error=%s"


class JobLog:
    """Logs the jobs of one worker and knows which ones are running, so that a worker stopped at
    once can say which ones it left."""

    def __init__(self) -> None:
        self.running: dict[int, Job] = {}

    def started(self, job: Job, job_id: int) -> None:
        self.running[job_id] = job
        # Built only when the line is kept: a busy worker runs thousands of jobs a second.
        if logger.isEnabledFor(logging.INFO):
            fields = _job_fields(job, job_id)
            logger.info(_STARTED, *fields.values(), extra={"job": fields})

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
        fields["duration"] = f"{time.time() - started:.3f}s"
        fields["outcome"] = outcome
        if error:
            fields["error"] = error
        template = _ENDED_WITH_ERROR if error else _ENDED
        logger.log(level, template, *fields.values(), extra={"job": fields}, exc_info=traceback_of)


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
