"""The backend's `OPTIONS`, checked once: what each means, and one line for a bad value."""

from dataclasses import dataclass
from typing import Any

from procrastinate.retry import BaseRetryStrategy, RetryValue


@dataclass(frozen=True)
class BackendOptions:
    # The retry of tasks that do not set their own (`@task(retry=...)`): False (none), a number
    # of retries, or a RetryStrategy.
    retry: RetryValue = False
    # Store the job when the enqueueing transaction commits, as Django's docs suggest doing by
    # hand, instead of inside it.
    enqueue_on_commit: bool = False


KNOWN = ", ".join(BackendOptions.__dataclass_fields__)


def retry_problem(value: Any) -> str | None:
    """Why `value` is not a retry Procrastinate understands, or None."""
    if isinstance(value, bool | BaseRetryStrategy):
        return None
    if isinstance(value, int) and value >= 0:
        return None
    return (
        f"retry must be False, True, a number of retries (0 or more) or a RetryStrategy, "
        f"not {value!r}"
    )


def parse_options(alias: str, options: Any) -> tuple[BackendOptions, str | None]:
    """The options, and what is wrong with them (None if nothing): defaults stand in for a bad
    value, so that `manage.py check` can report it instead of failing to load the backend."""
    where = f"TASKS[{alias!r}]['OPTIONS']"
    if not isinstance(options, dict):
        return BackendOptions(), f"{where} must be a dict, not {type(options).__name__}"
    unknown = sorted(set(options) - set(BackendOptions.__dataclass_fields__))
    if unknown:
        return BackendOptions(), f"{where} has unknown option(s) {', '.join(unknown)}: use {KNOWN}"
    problem = retry_problem(options.get("retry", False))
    if problem is not None:
        return BackendOptions(), f"{where}: {problem}"
    on_commit = options.get("enqueue_on_commit", False)
    if not isinstance(on_commit, bool):
        return (
            BackendOptions(),
            f"{where}: enqueue_on_commit must be True or False, not {on_commit!r}",
        )
    return BackendOptions(**options), None
