"""A job's options (queue, priority, locks, schedule) as a value that `configure()` replaces."""

import dataclasses
import datetime
from collections.abc import Mapping

from django.utils import timezone

# A delay: a timedelta, or Procrastinate's mapping of timedelta's keywords ({"minutes": 5}).
Delay = datetime.timedelta | Mapping[str, float]


@dataclasses.dataclass(frozen=True)
class JobOptions:
    queue: str
    priority: int
    lock: str | None
    queueing_lock: str | None
    schedule_at: datetime.datetime | None = None
    schedule_in: datetime.timedelta | None = None

    def scheduled_at(self) -> datetime.datetime | None:
        """When the job may run, worked out at defer time (None: as soon as possible)."""
        if self.schedule_in is not None:
            return timezone.now() + self.schedule_in
        return self.schedule_at

    def replaced(
        self,
        task_name: str,
        *,
        queue: str | None = None,
        priority: int | None = None,
        lock: str | None = None,
        queueing_lock: str | None = None,
        schedule_at: datetime.datetime | None = None,
        schedule_in: Delay | None = None,
    ) -> "JobOptions":
        """These options with the given ones replaced (None keeps an option as it is); a new
        schedule replaces the old one. Bad values raise, naming the task."""
        if schedule_at is not None and schedule_in is not None:
            raise ValueError(f"Task {task_name!r}: give schedule_at or schedule_in, not both.")
        if schedule_at is not None and schedule_at.utcoffset() is None:
            raise ValueError(
                f"Task {task_name!r}: schedule_at must be timezone-aware "
                "(use django.utils.timezone.now() + timedelta(...))."
            )
        changes: dict[str, object] = {
            name: value
            for name, value in (
                ("queue", queue),
                ("priority", priority),
                ("lock", lock),
                ("queueing_lock", queueing_lock),
            )
            if value is not None
        }
        if schedule_at is not None or schedule_in is not None:
            changes["schedule_at"] = schedule_at
            changes["schedule_in"] = _delay(task_name, schedule_in)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _delay(task_name: str, schedule_in: Delay | None) -> datetime.timedelta | None:
    if schedule_in is None or isinstance(schedule_in, datetime.timedelta):
        return schedule_in
    try:
        return datetime.timedelta(**schedule_in)
    except TypeError as exc:
        raise ValueError(
            f"Task {task_name!r}: schedule_in takes a timedelta or timedelta's keywords "
            f"(e.g. {{'minutes': 5}}), not {dict(schedule_in)!r} ({exc})."
        ) from None
