"""How a job's outcome is decided once its task has raised: retried, failed or aborted.

The same code serves production workers and the test toolkit's in-memory queue. It is
Procrastinate's decision, with one change: a job that a worker's shutdown interrupted (its graceful
timeout ran out) goes back to the queue at once, whatever the task's retry strategy says. Most
strategies (none, or "SMTP errors only") would leave it `aborted`, a final state, and a job that
never got to finish must run again. A job aborted at a user's request stays aborted.
"""

import asyncio

from procrastinate import exceptions, job_context
from procrastinate.jobs import Status
from procrastinate.retry import RetryDecision
from procrastinate.tasks import Task

from taiga.tasksqueue.conf import TasksQueueSettings

UNKNOWN_TASK = (
    "TaskNotFound: no loaded module defines it; add its module to "
    f"{TasksQueueSettings.TASKS_MODULES_PATHS.name}"
)


# A job's args as JSON names them, for a row whose args are not an object (written by SQL, by
# another client, or by an older version).
_JSON_KINDS = {type(None): "null", list: "an array", str: "a string", bool: "a boolean"}


def malformed_args(args: object) -> str | None:
    """Why a job with these stored args cannot be run (it then fails at once), or None."""
    if isinstance(args, dict):
        return None
    kind = _JSON_KINDS.get(type(args), "a number")
    return (
        f"MalformedJob: its args are {kind}, not an object of named arguments; the job cannot "
        "be run (defer it again with the task's arguments)"
    )


def decide(
    task: Task[..., object, ...], context: job_context.JobContext, error: BaseException
) -> tuple[Status, RetryDecision | None]:
    """The job's status, and its retry if it gets one."""
    interrupted = isinstance(error, exceptions.JobAborted | asyncio.CancelledError)
    status = Status.ABORTED if interrupted else Status.FAILED
    shutdown = context.abort_reason() == job_context.AbortReason.SHUTDOWN
    if interrupted and shutdown:
        return status, RetryDecision(retry_in={"seconds": 0})
    if isinstance(error, exceptions.JobAborted):  # at a user's request
        return status, None
    job_retry = task.get_retry_exception(exception=error, job=context.job)
    return status, job_retry.retry_decision if job_retry else None
