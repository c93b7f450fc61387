"""The state exporter: the queue's state as Prometheus gauges, from the status report.

The numbers are those of `tasksqueue status` (ops/status.py's build_report), read from the
database: one source of truth, whatever the number of web processes. A report serves the scrapes
of TASKSQUEUE_METRICS_CACHE_SECONDS, so that scrapes, however frequent, cannot load the database.
The gauges live in a registry of their own, never prometheus_client's global one, and their names
(`tasksqueue_queue_*`, `tasksqueue_workers_*`, ...) are not those of the worker's event counters.
"""

import datetime
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.ops.status import StatusReport, build_report
from taiga.tasksqueue.ops.status_checks import STATUS_ORDER, State

PREFIX = "tasksqueue"


class StateCollector(Collector):
    """Gauges from the latest status report, built again once it is older than the cache window."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime.datetime] = timezone.now,
    ) -> None:
        self.clock = clock
        self.now = now
        self._lock = threading.Lock()
        self._cached: tuple[float, StatusReport] | None = None

    def report(self) -> StatusReport:
        # One scrape builds the report; the scrapes that arrive meanwhile wait for it.
        with self._lock:
            if self._cached is not None:
                built_at, report = self._cached
                if self.clock() - built_at < tq_settings.TASKSQUEUE_METRICS_CACHE_SECONDS:
                    return report
            report = build_report(now=self.now())
            self._cached = (self.clock(), report)
            return report

    def collect(self) -> Iterator[Metric]:
        return iter(families(self.report()))


def families(report: StatusReport) -> list[Metric]:
    checks = {check.name: check for check in report.checks}
    failed = GaugeMetricFamily(
        f"{PREFIX}_status_check_failed",
        "1 when this check of `tasksqueue status` fails, else 0",
        labels=["check"],
    )
    for check in report.checks:
        failed.add_metric([check.name], float(check.state is State.FAIL))
    built = GaugeMetricFamily(
        f"{PREFIX}_status_report_timestamp_seconds",
        "Unix time of the status report behind these numbers",
        value=report.checked_at.timestamp(),
    )
    result: list[Metric] = [failed, built]
    if checks["queues"].state is not State.SKIPPED:
        result += _queue_families(checks["queues"].data["queues"])
    if checks["workers"].state is not State.SKIPPED:
        workers = checks["workers"].data
        result += [
            _gauge("workers_alive", "Workers whose heartbeat is recent", workers["alive"]),
            _gauge(
                "workers_stalled",
                "Registered workers silent for the stalled timeout (not yet pruned)",
                workers["stalled"],
            ),
            _gauge(
                "workers_stalled_jobs",
                "Jobs in doing whose worker is silent or gone (the rescue's to requeue)",
                len(workers["stalled_jobs"]),
            ),
        ]
    if checks["orphans"].state is not State.SKIPPED:
        orphans = GaugeMetricFamily(
            f"{PREFIX}_orphan_jobs",
            "Jobs to run, running or failed of tasks that no loaded module defines",
            labels=["task", "status"],
        )
        for task, by_status in checks["orphans"].data["tasks"].items():
            for status, count in by_status.items():
                orphans.add_metric([task, status], count)
        result.append(orphans)
    return result


def _queue_families(queues: list[dict[str, Any]]) -> list[Metric]:
    jobs = GaugeMetricFamily(
        f"{PREFIX}_queue_jobs", "Jobs in the queue, by status", labels=["queue", "status"]
    )
    ready = GaugeMetricFamily(
        f"{PREFIX}_queue_ready_jobs",
        "Jobs due to run now and waiting for a worker",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        f"{PREFIX}_queue_oldest_ready_age_seconds",
        "How long the oldest ready job has waited since it was due (0 when none is ready)",
        labels=["queue"],
    )
    for queue in queues:
        name = queue["name"]
        # Every status of every queue, zeros included: a series that vanishes looks like a gap.
        for status in STATUS_ORDER:
            jobs.add_metric([name, status], queue["jobs"].get(status, 0))
        ready.add_metric([name], queue["ready"])
        oldest.add_metric([name], queue["oldest_waiting_seconds"] or 0)
    return [jobs, ready, oldest]


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


@functools.cache
def state_collector() -> StateCollector:
    """The collector of this process (one cache per web process)."""
    return StateCollector()


def exposition() -> bytes:
    """The state in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(state_collector())
    return generate_latest(registry)
