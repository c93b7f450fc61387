"""What a function and its decorators must be to work as a task: checked once, when it is
registered, so a bad definition fails at import with the task's name and leaves no trace."""

import inspect
from collections.abc import Callable
from typing import Any

import croniter

from taiga.tasksqueue.defer.options import JobOptions, storable_text
from taiga.tasksqueue.exceptions import InvalidTaskDefinition

MAX_TASK_NAME_CHARS = 128  # procrastinate_jobs.task_name is a varchar(128)


def task_signature(name: str, func: Callable[..., Any], pass_context: bool) -> inspect.Signature:
    """The parameters a job of this task is deferred with (the job context excluded)."""
    parameters = list(inspect.signature(func).parameters.values())
    if pass_context:
        if not parameters:
            raise InvalidTaskDefinition(
                f"Task {name!r} uses pass_context=True but its function takes no argument for "
                "the context; add a first parameter (context: JobContext)."
            )
        parameters = parameters[1:]
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            raise InvalidTaskDefinition(
                f"Task {name!r}: *{parameter.name} is not supported, jobs store named arguments; "
                "take a list argument instead."
            )
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise InvalidTaskDefinition(
                f"Task {name!r}: positional-only parameter {parameter.name!r} is not supported, "
                "the worker calls tasks with keyword arguments; remove the '/'."
            )
    return inspect.Signature(parameters)


def check_periodic(name: str, signature: inspect.Signature, cron: str) -> None:
    """A schedule needs a valid cron and a task that takes the scheduled `timestamp`."""
    if not croniter.croniter.is_valid(cron):
        raise InvalidTaskDefinition(
            f"Task {name!r}: invalid cron expression {cron!r} "
            "(5 fields, or 6 with seconds last, e.g. '0 * * * *')."
        )
    parameters = signature.parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    if "timestamp" not in parameters and not takes_kwargs:
        raise InvalidTaskDefinition(
            f"Task {name!r} is periodic, so it is called with a `timestamp` argument; add a "
            "`timestamp: int` parameter."
        )


def check_job_options(name: str, options: JobOptions) -> None:
    """The task's name and default job options, as PostgreSQL will store them."""
    if not name or len(name) > MAX_TASK_NAME_CHARS or not storable_text(name):
        raise InvalidTaskDefinition(
            f"Task name {name!r} must be 1 to {MAX_TASK_NAME_CHARS} characters, without NUL "
            "characters or lone surrogates; give the task a shorter `name=`."
        )
    problem = options.problem()
    if problem is not None:
        raise InvalidTaskDefinition(f"Task {name!r}: {problem}.")
