"""A worker's counts as Prometheus metric families, built when they are scraped.

The collector is registered in a registry of the worker's own, not `prometheus_client`'s global
one: nothing else in the process (a library's metrics, the web app's exporter when both share a
process in tests) ends up in the worker's exposition, and nothing is exposed twice.
"""

from collections.abc import Callable, Iterable, Iterator

from procrastinate.jobs import Job
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from taiga.tasksqueue.observability.worker_metrics import (
    BUCKETS,
    RETRY,
    Series,
    TaskQueue,
    WorkerMetrics,
)

PREFIX = "tasksqueue_worker_"
TASK_QUEUE = ["task", "queue"]
TASK_QUEUE_OUTCOME = ["task", "queue", "outcome"]

_BOUNDS = [*(repr(bound) for bound in BUCKETS), "+Inf"]


class WorkerCollector(Collector):
    def __init__(
        self, metrics: WorkerMetrics, running: Callable[[], Iterable[Job]], concurrency: int
    ) -> None:
        self.metrics = metrics
        self.running = running  # the jobs running now
        self.concurrency = concurrency

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        yield _counter(
            "jobs_started",
            "Runs this worker started (each attempt of a job).",
            metrics.started_jobs,
        )
        finished = CounterMetricFamily(
            PREFIX + "jobs_finished",
            "Jobs that ended for good (succeeded, failed, aborted), by outcome.",
            labels=TASK_QUEUE_OUTCOME,
        )
        retried: dict[TaskQueue, int] = {}
        for (task, queue, outcome), series in sorted(metrics.runs.items()):
            if outcome == RETRY:
                retried[(task, queue)] = series.count
            else:
                finished.add_metric([task, queue, outcome], series.count)
        yield finished
        yield _counter("jobs_retried", "Runs that ended in a retry.", retried)
        yield _counter(
            "jobs_rescued",
            "Jobs this worker put back in the queue after losing track of them.",
            metrics.rescued_jobs,
        )
        yield _histogram(
            "job_run_seconds",
            "How long jobs ran, by the run's outcome (a retry's run included).",
            TASK_QUEUE_OUTCOME,
            metrics.runs,
        )
        yield _histogram(
            "job_wait_seconds",
            "How long jobs waited in the queue from when they were due (their schedule or retry "
            "time, else their deferral) until this worker fetched them.",
            TASK_QUEUE,
            metrics.waits,
        )
        running = GaugeMetricFamily(PREFIX + "jobs_running", "Jobs running now.", labels=TASK_QUEUE)
        counts: dict[TaskQueue, int] = {}
        for job in self.running():
            counts[(job.task_name, job.queue)] = counts.get((job.task_name, job.queue), 0) + 1
        for labels, count in sorted(counts.items()):
            running.add_metric(list(labels), count)
        yield running
        yield GaugeMetricFamily(
            PREFIX + "concurrency", "Jobs this worker can run at once.", value=self.concurrency
        )
        yield CounterMetricFamily(
            PREFIX + "connection_losses",
            "Times the worker lost its database (an outage counts once).",
            value=metrics.connection_losses,
        )
        yield CounterMetricFamily(
            PREFIX + "reconnects",
            "Times the worker got its database back after a loss.",
            value=metrics.reconnects,
        )


def _counter(name: str, documentation: str, counts: dict[TaskQueue, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, documentation, labels=TASK_QUEUE)
    for labels, count in sorted(counts.items()):
        family.add_metric(list(labels), count)
    return family


def _histogram[K: tuple[str, ...]](
    name: str, documentation: str, labels: list[str], series: dict[K, Series]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(PREFIX + name, documentation, labels=labels)
    for key, one in sorted(series.items()):
        cumulative, buckets = 0, []
        for bound, count in zip(_BOUNDS, one.counts, strict=True):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        family.add_metric(list(key), buckets, one.total)
    return family


def worker_registry(collector: WorkerCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
