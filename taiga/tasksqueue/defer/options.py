"""A job's options (queue, priority, locks, schedule) as a value that `configure()` replaces."""

import dataclasses
import datetime
from collections.abc import Mapping
from typing import TypedDict, Unpack

from django.utils import timezone

from taiga.tasksqueue.exceptions import InvalidJobOptions

# A delay: a timedelta, or Procrastinate's mapping of timedelta's keywords ({"minutes": 5}).
Delay = datetime.timedelta | Mapping[str, float]

# A job's queue is also the name of the channel its notification goes out on:
# "procrastinate_queue_v1#" (23 bytes) and the name, within PostgreSQL's 63 bytes.
MAX_QUEUE_BYTES = 40
PRIORITY_RANGE = (-(2**31), 2**31 - 1)  # the column is a PostgreSQL integer


class OptionChanges(TypedDict, total=False):
    """What `Task.configure()` takes; None (or leaving one out) keeps the option as it is."""

    queue: str | None
    priority: int | None
    lock: str | None
    queueing_lock: str | None
    schedule_at: datetime.datetime | None
    schedule_in: Delay | None


@dataclasses.dataclass(frozen=True)
class JobOptions:
    queue: str
    priority: int
    lock: str | None
    queueing_lock: str | None
    schedule_at: datetime.datetime | None = None
    schedule_in: datetime.timedelta | None = None

    def problem(self) -> str | None:
        """What PostgreSQL would refuse in these options, said with the limit; None if nothing.

        Checked before any SQL, so that a bad option never reaches the database, where it would
        fail as a bare database error and abort the caller's transaction.
        """
        queue = self.queue
        if not isinstance(queue, str) or not queue:
            return f"queue must be a non-empty string, got {queue!r}"
        if len(queue.encode("utf-8", "surrogatepass")) > MAX_QUEUE_BYTES:
            return (
                f"queue {queue!r} is over {MAX_QUEUE_BYTES} bytes, the longest name PostgreSQL "
                "can notify workers of"
            )
        priority = self.priority
        if isinstance(priority, bool) or not isinstance(priority, int):
            return f"priority must be a whole number, got {priority!r}"
        if not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
            return f"priority must be between {PRIORITY_RANGE[0]} and {PRIORITY_RANGE[1]}"
        for name, value in (
            ("queue", queue),
            ("lock", self.lock),
            ("queueing_lock", self.queueing_lock),
        ):
            if value is not None and not isinstance(value, str):
                return f"{name} must be a string or None, got {value!r}"
            if value is not None and not storable_text(value):
                return f"{name} {value!r} holds a NUL character or a lone surrogate"
        return None

    def scheduled_at(self) -> datetime.datetime | None:
        """When the job may run, worked out at defer time (None: as soon as possible)."""
        if self.schedule_in is not None:
            return timezone.now() + self.schedule_in
        return self.schedule_at

    def replaced(self, task_name: str, **given: Unpack["OptionChanges"]) -> "JobOptions":
        """These options with the given ones replaced (None keeps an option as it is); a new
        schedule replaces the old one. Bad values raise, naming the task."""
        unknown = sorted(set(given) - set(OptionChanges.__annotations__))
        if unknown:
            raise TypeError(
                f"Task {task_name!r}: configure() takes {', '.join(OptionChanges.__annotations__)}"
                f", not {', '.join(unknown)}."
            )
        schedule_at, schedule_in = given.get("schedule_at"), given.get("schedule_in")
        if schedule_at is not None and schedule_in is not None:
            raise InvalidJobOptions(
                f"Task {task_name!r}: give schedule_at or schedule_in, not both."
            )
        if schedule_at is not None and schedule_at.utcoffset() is None:
            raise InvalidJobOptions(
                f"Task {task_name!r}: schedule_at must be timezone-aware "
                "(use django.utils.timezone.now() + timedelta(...))."
            )
        changes: dict[str, object] = {
            name: value
            for name, value in given.items()
            if value is not None and name not in ("schedule_at", "schedule_in")
        }
        if schedule_at is not None or schedule_in is not None:
            changes["schedule_at"] = schedule_at
            changes["schedule_in"] = _delay(task_name, schedule_in)
        replaced = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        problem = replaced.problem()
        if problem is not None:
            raise InvalidJobOptions(f"Task {task_name!r}: {problem}.")
        return replaced


def _delay(task_name: str, schedule_in: Delay | None) -> datetime.timedelta | None:
    if schedule_in is None or isinstance(schedule_in, datetime.timedelta):
        return schedule_in
    try:
        return datetime.timedelta(**schedule_in)
    except TypeError as exc:
        raise InvalidJobOptions(
            f"Task {task_name!r}: schedule_in takes a timedelta or timedelta's keywords "
            f"(e.g. {{'minutes': 5}}), not {dict(schedule_in)!r} ({exc})."
        ) from None


def storable_text(text: str) -> bool:
    """PostgreSQL's text holds neither NUL nor a surrogate that is not part of a pair."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
