"""A worker process's outages: the times losing the database ended its run and a new run came
back, for `status`. A statement that went through when sent again is no outage here; the worker's
exporter counts those connection losses too (`observability/worker_metrics.py`).

The supervisor notes each loss; the worker's next run, once registered, notes the recovery and
records the count and the last loss with who it is (`tasksqueue_workerprocess`), so that `status`
and the dashboard tell after the fact that a worker rode through an outage, and when.
"""

import datetime

from django.utils import timezone


class Outages:
    def __init__(self) -> None:
        self.count = 0  # outages this process came back from
        self.last_lost_at: datetime.datetime | None = None  # when the last of them began
        self._lost_at: datetime.datetime | None = None  # the one going on, if any

    def lost(self) -> None:
        """The database is gone (again: a failed restart is the same outage)."""
        if self._lost_at is None:
            self._lost_at = timezone.now()

    def recovered(self) -> None:
        """A run registered: the outage going on, if any, is over."""
        if self._lost_at is not None:
            self.count += 1
            self.last_lost_at, self._lost_at = self._lost_at, None
