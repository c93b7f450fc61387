"""What one worker process counts about its jobs and its connections, for its events exporter.

A busy worker runs thousands of jobs a second, so counting is kept to a dict update on the event
loop: no lock, no metric object per label set. The counts become Prometheus metric families only
when they are scraped (`worker_exposition.py`), which happens on the same loop.

Only the task's name, its queue and the run's outcome label a count, never a job id or argument:
each label set is a series Prometheus keeps for good.
"""

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import Any

from procrastinate.jobs import Job

# Upper bounds of the histograms' buckets, in seconds: from a no-op's milliseconds to an hour's
# backlog or a long report.
BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
)

# A run ends in one of Procrastinate's final statuses (succeeded, failed, aborted) or in a retry.
RETRY = "retry"

TaskQueue = tuple[str, str]
TaskQueueOutcome = tuple[str, str, str]


class Series:
    """One label set of a histogram: observations per bucket (not cumulative; the last one is
    +Inf) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # Prometheus buckets are "less than or equal": the first bound >= value.
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)


class WorkerMetrics:
    """The counts of one worker process since it started.

    Jobs finished and retried are the run-time histogram's counts by outcome, so every run is
    counted once: started = finished + retried + running (+ the jobs a shutdown cancelled before
    they ran).
    """

    def __init__(self) -> None:
        self.started_jobs: dict[TaskQueue, int] = {}
        self.runs: dict[TaskQueueOutcome, Series] = {}
        self.waits: dict[TaskQueue, Series] = {}
        self.rescued_jobs: dict[TaskQueue, int] = {}
        self.connection_losses = 0
        self.reconnects = 0
        self._connected = True

    def started(self, job: Job) -> None:
        key = (job.task_name, job.queue)
        self.started_jobs[key] = self.started_jobs.get(key, 0) + 1

    def ended(self, job: Job, outcome: str, seconds: float) -> None:
        """A run ended: `outcome` is "succeeded", "failed", "aborted" or `RETRY`."""
        key = (job.task_name, job.queue, outcome)
        series = self.runs.get(key)
        if series is None:
            series = self.runs[key] = Series()
        series.observe(seconds)

    def waited(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Fetched jobs' rows, with how long each waited since it was due (`waited`, in seconds;
        None when nothing says when it was due)."""
        for row in rows:
            seconds = row["waited"]
            if seconds is None:
                continue
            key = (row["task_name"], row["queue_name"])
            series = self.waits.get(key)
            if series is None:
                series = self.waits[key] = Series()
            # A schedule written by a client whose clock is ahead of the server's.
            series.observe(max(0.0, seconds))

    def rescued(self, task: str, queue: str) -> None:
        """The worker put a job it had lost track of back in the queue."""
        key = (task, queue)
        self.rescued_jobs[key] = self.rescued_jobs.get(key, 0) + 1

    def connection_lost(self) -> None:
        """A statement or the listener found its connection dead. One outage counts once, however
        many statements fail in it, until `reconnected`."""
        if self._connected:
            self._connected = False
            self.connection_losses += 1

    def reconnected(self) -> None:
        """A statement went through, or the listener listens again, after a loss."""
        if not self._connected:
            self._connected = True
            self.reconnects += 1
