"""One table from a run's results: a row per figure, a column per system, then the ratios.

A system column (and its ratio) shows only when some row has a figure for it, so a run of a few
systems is not padded with empty columns. Rows can carry a note, printed under the table.

The "django-tasks" phase's rows (benchmarks.dj_phase) put our Django-task backend in the "ours"
column, the same no-ops as our plain tasks in "ours plain" and django-tasks-db in its own column:
their ours/ours plain ratio is what the backend costs over plain tasks, ours/django-tasks-db the
comparison with the peer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.figures import ceiling
from benchmarks.real import REAL

RATE = "jobs_per_s"
SYSTEM_COLUMNS = (
    ("ours", "ours"),
    ("stock", "stock"),
    ("pgq", "pgqueuer"),
    ("pgq-asyncpg", "pgqueuer-asyncpg"),
    ("ours-plain", "ours plain"),
    ("tasksdb", "django-tasks-db"),
    ("ours-poll", "ours --no-listen"),
    ("ours-metrics", "ours metrics on"),
)
# Shown only when a row has a floor (the real tasks' rows): the same work with no queue at all.
FLOOR_COLUMN = ("floor", "floor")


@dataclass(frozen=True)
class Row:
    label: str
    unit: str
    better: str  # "higher" or "lower"
    values: dict[str, float | None]
    note: str = ""

    def ratio(self, other: str) -> float | None:
        ours, theirs = self.values.get("ours"), self.values.get(other)
        if self.better not in ("higher", "lower"):
            return None
        if ours is None or theirs is None or theirs == 0:
            return None
        return ours / theirs

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "better": self.better,
            "values": self.values,
            **{
                f"ours_over_{name.replace('-', '_').replace(' ', '_')}": self.ratio(key)
                for key, name in (*SYSTEM_COLUMNS[1:], FLOOR_COLUMN)
            },
            "note": self.note or None,
        }


def _get(data: Any, *path: str) -> float | None:
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return None
    return float(data) if isinstance(data, int | float) else None


def _drain(results: dict[str, Any], system: str, c: int, p: int, key: str) -> float | None:
    for drain in results.get(system, {}).get("drains", []):
        if drain["concurrency"] == c and drain["processes"] == p:
            value = drain.get(key)
            return float(value) if isinstance(value, int | float) else None
    return None


def _real(drains: list[dict[str, Any]], task: str) -> float | None:
    for drain in drains:
        if drain.get("task") == task:
            value = drain.get(RATE)
            return float(value) if isinstance(value, int | float) else None
    return None


def ceiling_note(cores: int) -> str:
    return (
        f"ceiling = cores / (worker CPU + PostgreSQL CPU per job), cores = {cores} "
        "(psutil.cpu_count()): the rate this machine's cores would allow at that system's own cost "
        "per job, had they nothing else to run; the drain's rate is then shown as a share of it."
    )


def _ceiling_rows(results: dict[str, Any], c: int, p: int, cores: int) -> list[Row]:
    """The CPU ceiling of a drain, and the drain's rate as a share of it, by system."""
    systems = [key for key, _ in SYSTEM_COLUMNS]
    limits = {
        s: ceiling(
            _drain(results, s, c, p, "worker_cpu_ms_per_job"),
            _drain(results, s, c, p, "pg_cpu_ms_per_job"),
            cores,
        )
        for s in systems
    }
    shares: dict[str, float | None] = {}
    for s, limit in limits.items():
        rate = _drain(results, s, c, p, RATE)
        shares[s] = 100 * rate / limit if rate is not None and limit else None
    note = ceiling_note(cores)
    return [
        Row(f"CPU ceiling, drain c{c}", "jobs/s", "higher", limits, note),
        Row(f"drain c{c} rate, share of its ceiling", "%", "-", shares, note),
    ]


def django_tasks_note(results: dict[str, Any]) -> str:
    def drain_of(key: str) -> dict[str, Any]:
        data = results.get(key, {}).get("django_tasks", {})
        found = [data[flavour]["drain"] for flavour in ("sync", "async") if flavour in data]
        return found[0] if found else {}

    ours, peer = drain_of("ours") or drain_of("ours-plain"), drain_of("tasksdb")
    config = results.get("tasksdb", {}).get("django_tasks", {}).get("config", {})
    parts = []
    if ours:
        parts.append(
            "ours = django.tasks @task no-ops on TasksQueueBackend, Task.enqueue() one call per "
            "job from sync code, drained by `tasksqueue worker -c "
            f"{ours['concurrency']} --one-shot`, 1 process; ours plain = the same no-ops as "
            "@manager.task, defer_sync(), the same worker. Target: the backend adds under 10 % "
            "to the drain, ours/ours plain >= 0.91x on the drain rows"
        )
    if peer:
        processes = peer.get("processes", 1)
        parts.append(
            "django-tasks-db = its DatabaseBackend, the same @task functions and Task.enqueue(), "
            f"drained by `db_worker --batch --no-startup-delay` in {processes} processes (one "
            f"task at a time each), CONN_MAX_AGE {config.get('conn_max_age', '?')} "
            "(benchmarks/settings_tasksdb.py)"
        )
    return "; ".join(parts) + "."


def _django_tasks_rows(results: dict[str, Any]) -> list[Row]:
    keys = [key for key, _ in SYSTEM_COLUMNS]
    note = django_tasks_note(results)
    rows: list[Row] = []
    for flavour in ("sync", "async"):
        found = [
            results[key]["django_tasks"][flavour]
            for key in keys
            if flavour in results.get(key, {}).get("django_tasks", {})
        ]
        if not found:
            continue
        jobs = found[0]["drain"]["jobs"]

        def row(label: str, unit: str, *path: str, flavour: str = flavour) -> Row:
            values = {
                key: _get(results.get(key, {}), "django_tasks", flavour, *path) for key in keys
            }
            return Row(label, unit, "higher" if unit == "jobs/s" else "lower", values, note)

        what = f"{flavour} no-op"
        rows += [
            row(
                f"Django task: enqueue one per call, {what}",
                "jobs/s",
                "enqueue",
                RATE,
            ),
            row(f"Django task: drain {jobs:,} {what} jobs", "jobs/s", "drain", RATE),
            row(
                f"Django task: enqueue client CPU per job, {what}",
                "ms",
                "enqueue",
                "client_cpu_ms_per_job",
            ),
            row(f"Django task: worker CPU per job, {what}", "ms", "drain", "worker_cpu_ms_per_job"),
            row(
                f"Django task: PostgreSQL CPU per job drained, {what}",
                "ms",
                "drain",
                "pg_cpu_ms_per_job",
            ),
        ]
    return rows


def build_rows(
    results: dict[str, Any], drain_configs: list[tuple[int, int, int]], cores: int
) -> list[Row]:
    systems = [key for key, _ in SYSTEM_COLUMNS]

    def row(label: str, unit: str, better: str, *path: str) -> Row:
        return Row(label, unit, better, {s: _get(results.get(s, {}), *path) for s in systems})

    rows = [
        row("defer, one per call, sync", "jobs/s", "higher", "defers", "defer_sync", RATE),
        row("defer, one per call, async", "jobs/s", "higher", "defers", "defer_async", RATE),
        row("defer_many, batches of 1,000", "jobs/s", "higher", "defers", "defer_many", RATE),
    ]
    for c, p, jobs in drain_configs:
        procs = "1 process" if p == 1 else f"{p} processes"
        rows.append(
            Row(
                f"drain {jobs:,} jobs, concurrency {c}, {procs}",
                "jobs/s",
                "higher",
                {s: _drain(results, s, c, p, "jobs_per_s") for s in systems},
            )
        )
    real = {key: results.get(key, {}).get("real", []) for key in (*systems, "floor")}
    for task, kind in REAL.items():
        found = [d for drains in real.values() for d in drains if d.get("task") == task]
        if found:
            jobs, c = found[0]["jobs"], found[0]["concurrency"]
            rows.append(
                Row(
                    f"drain {jobs:,} {kind} jobs, concurrency {c}, 1 process",
                    "jobs/s",
                    "higher",
                    {key: _real(drains, task) for key, drains in real.items()},
                )
            )
    rows += _django_tasks_rows(results)
    rows += [
        row("latency defer -> start, p50", "ms", "lower", "latency", "p50_ms"),
        row("latency defer -> start, p95", "ms", "lower", "latency", "p95_ms"),
        row("latency defer -> start, p99", "ms", "lower", "latency", "p99_ms"),
        row("latency samples taken", "samples", "-", "latency", "samples"),
    ]
    for c, p, _ in drain_configs:
        if p != 1:
            continue
        for key, what in (("worker_cpu_ms_per_job", "worker"), ("pg_cpu_ms_per_job", "PostgreSQL")):
            rows.append(
                Row(
                    f"{what} CPU per job, drain c{c}",
                    "ms",
                    "lower",
                    {s: _drain(results, s, c, p, key) for s in systems},
                )
            )
        rows += _ceiling_rows(results, c, p, cores)
    rows += [
        row(
            "defer (sync): PostgreSQL CPU per job",
            "ms",
            "lower",
            "defers",
            "defer_sync",
            "pg_cpu_ms_per_job",
        ),
        row(
            "round trips per single defer (sync)",
            "",
            "lower",
            "round_trips",
            "defer_sync",
            "round_trips_per_job",
        ),
        row(
            "round trips per single defer (async)",
            "",
            "lower",
            "round_trips",
            "defer_async",
            "round_trips_per_job",
        ),
        row(
            "round trips per 1,000-job defer_many",
            "",
            "lower",
            "round_trips",
            "defer_many",
            "round_trips_per_1000_jobs",
        ),
    ]
    for c in (1, 10):
        rows += [
            row(
                f"round trips per job, drain c{c}",
                "",
                "lower",
                "round_trips",
                f"drain_c{c}",
                "round_trips_per_job",
            ),
            row(
                f"statements per job, drain c{c}",
                "",
                "lower",
                "round_trips",
                f"drain_c{c}",
                "statements_per_job",
            ),
        ]
    return [r for r in rows if any(v is not None for v in r.values.values())]


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("jobs/s", "samples", "%"):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x" if value >= 0.1 else f"{value:.4f}x"


def render(rows: list[Row], markdown: bool = False) -> str:
    columns = [
        (key, name)
        for key, name in (*SYSTEM_COLUMNS, FLOOR_COLUMN)
        if any(r.values.get(key) is not None for r in rows)
    ]
    ratios = [(key, f"ours/{name}") for key, name in columns if key != "ours"]
    notes = list(dict.fromkeys(r.note for r in rows if r.note))
    header = [
        "measure",
        "unit",
        "better",
        *(name for _, name in columns),
        *(name for _, name in ratios),
    ]
    body = [
        [
            r.label + (f" [{notes.index(r.note) + 1}]" if r.note else ""),
            r.unit or "count",
            r.better,
            *(_cell(r.values.get(key), r.unit) for key, _ in columns),
            *(_ratio(r.ratio(key)) for key, _ in ratios),
        ]
        for r in rows
    ]
    footnotes = [f"[{number}] {note}" for number, note in enumerate(notes, 1)]
    footnotes = ["", *footnotes] if footnotes else []
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join([*lines, *footnotes])
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        left, right = cells[:3], cells[3:]
        aligned = [cell.ljust(width) for cell, width in zip(left, widths, strict=False)]
        aligned += [cell.rjust(width) for cell, width in zip(right, widths[3:], strict=True)]
        return "  ".join(aligned)

    rule = "-" * len(fmt(header))
    return "\n".join([fmt(header), rule, *(fmt(cells) for cells in body), *footnotes])
