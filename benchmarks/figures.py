"""What the harness measures with: the plans (how many jobs, samples...), a drain's figures, and
how raw samples and stamps become the figures."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.probe import Stamp


@dataclass(frozen=True)
class Plan:
    defer_single: int  # jobs deferred one per call (sync, then async)
    defer_many: int  # jobs deferred in batches
    batch: int
    drain_configs: tuple[tuple[int, int, int], ...]  # (concurrency, processes, jobs)
    latency_samples: int
    latency_budget_s: float  # per system: fewer samples if they take longer than this
    latency_rounds: int  # the systems take turns, each round taking its share of the samples
    rt_defers: int  # the round-trip pass (through the counting proxy)
    rt_drain_jobs: int
    rt_drain_concurrency: tuple[int, ...] = (1, 10)
    real_jobs: int = 5_000  # per drain of "real" tasks (benchmarks.real), and per floor
    real_concurrency: int = 10
    # The "django-tasks" phase (benchmarks.dj_phase): jobs enqueued one per call, then drained,
    # per system and kind of no-op; our worker's concurrency (1 process); django-tasks-db's
    # worker processes (its db_worker runs one task at a time).
    django_jobs: int = 5_000
    django_concurrency: int = 10
    tasksdb_processes: int = 2


FULL = Plan(
    defer_single=2_000,
    defer_many=20_000,
    batch=1_000,
    # Concurrency 1 drains 10,000 jobs, not 20,000, to keep a full run near five minutes: its rate
    # is steady long before that (`--jobs 20000` drains 20,000 everywhere).
    drain_configs=((1, 1, 10_000), (10, 1, 20_000), (10, 2, 20_000)),
    latency_samples=300,
    latency_budget_s=30,
    latency_rounds=6,
    rt_defers=200,
    rt_drain_jobs=500,
)
QUICK = Plan(
    defer_single=200,
    defer_many=2_000,
    batch=1_000,
    drain_configs=((1, 1, 1_000), (10, 1, 1_000), (10, 2, 1_000)),
    latency_samples=40,
    latency_budget_s=15,
    latency_rounds=2,
    rt_defers=50,
    rt_drain_jobs=200,
    real_jobs=500,
    django_jobs=500,
)


@dataclass
class Drain:
    concurrency: int
    processes: int
    jobs: int
    task: str = "noop"
    jobs_per_s: float | None = None
    span_s: float | None = None
    wall_s: float | None = None  # first worker spawned to last one exited, start-up included
    worker_cpu_ms_per_job: float | None = None
    pg_cpu_ms_per_job: float | None = None
    outcome: dict[str, int] = field(default_factory=dict)
    ok: bool = False
    error: str | None = None
    round_trips_per_job: float | None = None
    statements_per_job: float | None = None
    other_load: float | None = None  # share of the machine's CPU used by other work meanwhile


def stamp_rate(stamps: list[Stamp]) -> tuple[float, float | None]:
    """Span and rate: jobs over first start to last end for tasks that note their end, else
    jobs - 1 over first start to last start (a no-op's end is its start)."""
    first = min(s.first_wall for s in stamps)
    done = sum(s.count for s in stamps)
    if all(s.last_end for s in stamps):
        span = max(s.last_end for s in stamps) - first
        return span, done / span if span > 0 else None
    span = max(s.last_wall for s in stamps) - first
    return span, (done - 1) / span if span > 0 else None


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def drain_summary(drain: Drain) -> str:
    rate = "n/a" if drain.jobs_per_s is None else f"{drain.jobs_per_s:,.0f} jobs/s"
    other = ""
    if drain.other_load is not None and drain.other_load > 0.05:
        other = f" (other work used {100 * drain.other_load:.0f}% of the CPUs meanwhile)"
    return (
        f"{rate}, worker CPU {fmt(drain.worker_cpu_ms_per_job)} ms/job, "
        f"PostgreSQL CPU {fmt(drain.pg_cpu_ms_per_job)} ms/job{other}"
    )


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def latency_summary(values: list[float], missed: int) -> dict[str, Any]:
    """Milliseconds from samples in seconds; None where there is no sample."""
    ordered = sorted(values)
    result: dict[str, Any] = {"samples": len(ordered), "missed": missed}
    for key, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
        result[f"{key}_ms"] = 1000 * percentile(ordered, fraction) if ordered else None
    result["mean_ms"] = 1000 * statistics.fmean(ordered) if ordered else None
    return result


def latency_line(result: dict[str, Any]) -> str:
    if not result["samples"]:
        return f"latency: no sample ({result['missed']} missed)"
    return (
        f"latency p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms ({result['samples']} samples, {result['missed']} missed)"
    )


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def as_dict(drain: Drain) -> dict[str, Any]:
    return asdict(drain)


def ceiling(worker_ms: float | None, pg_ms: float | None, cores: int) -> float | None:
    """Jobs/s that `cores` cores allow when a job costs that much CPU in the worker and in
    PostgreSQL (ms each): the most the same code could drain here, whatever its concurrency."""
    if worker_ms is None or pg_ms is None or worker_ms + pg_ms <= 0:
        return None
    return 1000 * cores / (worker_ms + pg_ms)
