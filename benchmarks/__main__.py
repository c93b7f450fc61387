"""`python -m benchmarks` (`make bench`): ours, stock Procrastinate, PgQueuer (psycopg, asyncpg),
and, for Django's own tasks framework, ours against django-tasks-db (phase "django-tasks").

Prints progress, then one table with the ratios, and writes it with every raw figure to
benchmarks/results/latest.json. `--quick` is a smoke run with few jobs; its figures mean little.
See docs/performance.md for the method, benchmarks/dj_phase.py for the "django-tasks" phase's.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import db, dj_phase, figures, latency, real, report, runner
from benchmarks.systems import OURS_WORKER, SYSTEMS, System

PHASES = ("defers", "latency", "drains", "real", "rt", dj_phase.PHASE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (few jobs)")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma list among {', '.join(SYSTEMS)} (default: all)",
    )
    parser.add_argument(
        "--only",
        default=",".join(PHASES),
        help=f"comma list of phases among {', '.join(PHASES)} (default: all)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=db.ROOT / "benchmarks" / "results" / "latest.json",
        help="where to write the JSON results",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="drain every combination of concurrency 1/10 and 1/2 processes (adds c1 x 2)",
    )
    parser.add_argument("--jobs", type=int, help="jobs per drain (default: 10,000 at c1, 20,000)")
    parser.add_argument(
        "--real-jobs", type=int, help="jobs per drain of real tasks, and per floor (default 5,000)"
    )
    parser.add_argument(
        "--django-jobs",
        type=int,
        help="django-tasks phase: jobs enqueued then drained per system and kind of no-op "
        "(default 5,000; --quick 500)",
    )
    parser.add_argument(
        "--tasksdb-processes",
        type=int,
        help="django-tasks phase: db_worker processes of django-tasks-db (default 2)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    parser.add_argument(
        "--db-suffix",
        default="",
        help="appended to every bench_* database name: two runs at once on one server would "
        "otherwise take each other's jobs and truncate each other's queues",
    )
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    packages = (
        "django",
        "procrastinate",
        "pgqueuer",
        "psycopg",
        "psycopg-pool",
        "asyncpg",
        "django-tasks-db",
    )
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "packages": versions,
    }


def run_phases(harness: runner.Harness, systems: list[System], phases: list[str]) -> dict[str, Any]:
    plan, server = harness.plan, harness.server
    results: dict[str, Any] = {system.key: {} for system in systems}
    harness.say("Setting up one database per system (create if missing, migrate, install)")
    for system in systems:
        if any(system.in_phase(phase) for phase in phases):
            system.setup(server)
            system.reset(server)
    # Systems that take part in one phase alone (django-tasks-db) are left out of the others.
    everywhere = systems
    systems = [system for system in everywhere if system.only_phase is None]

    if "defers" in phases:
        harness.say(
            f"Defer throughput: {plan.defer_single:,} jobs one per call (sync, async), "
            f"{plan.defer_many:,} in batches of {plan.batch:,}"
        )
        for system in systems:
            results[system.key]["defers"] = harness.defers(system)

    if "latency" in phases:
        harness.say(
            f"Latency from defer to task start, idle worker: {plan.latency_samples} samples "
            f"(or what fits in {plan.latency_budget_s:.0f} s) in {plan.latency_rounds} rounds, "
            "the systems taking turns"
        )
        in_latency = [system for system in everywhere if system.in_phase("latency")]
        for key, measured in latency.run(harness, in_latency).items():
            results[key]["latency"] = measured

    if "drains" in phases:
        drainers = [system for system in everywhere if system.in_phase("drains")]
        for concurrency, processes, jobs in plan.drain_configs:
            harness.say(
                f"Drain {jobs:,} pre-filled no-op jobs, concurrency {concurrency}, "
                f"{processes} worker process{'es' if processes > 1 else ''}"
            )
            for system in drainers:
                drain = harness.drain(system, concurrency, processes, jobs)
                results[system.key].setdefault("drains", []).append(figures.as_dict(drain))
                harness.say(f"  {system.label}: {figures.drain_summary(drain)}")

    if "real" in phases:
        for key, drains in real.run(harness, systems).items():
            results.setdefault(key, {})["real"] = drains

    if "rt" in phases:
        harness.say("Round trips and statements per job, counted by a proxy (not timed)")
        for system in systems:
            results[system.key]["round_trips"] = harness.round_trips(system)

    if dj_phase.PHASE in phases:
        for key, measured in dj_phase.run(harness, everywhere).items():
            results.setdefault(key, {})["django_tasks"] = measured

    return results


def command_line(argv: list[str]) -> str:
    return " ".join("python" if arg == sys.executable else arg for arg in argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = figures.QUICK if args.quick else figures.FULL
    if args.matrix:
        configs = ((1, 1), (10, 1), (1, 2), (10, 2))
        jobs = {(c, p): n for c, p, n in plan.drain_configs}
        plan = dataclasses.replace(
            plan,
            drain_configs=tuple((c, p, jobs.get((c, p), jobs[(c, 1)])) for c, p in configs),
        )
    if args.jobs:
        plan = dataclasses.replace(
            plan, drain_configs=tuple((c, p, args.jobs) for c, p, _ in plan.drain_configs)
        )
    if args.real_jobs:
        plan = dataclasses.replace(plan, real_jobs=args.real_jobs)
    if args.django_jobs:
        plan = dataclasses.replace(plan, django_jobs=args.django_jobs)
    if args.tasksdb_processes:
        plan = dataclasses.replace(plan, tasksdb_processes=args.tasksdb_processes)
    keys = [key.strip() for key in args.systems.split(",") if key.strip()]
    phases = [phase.strip() for phase in args.only.split(",") if phase.strip()]
    unknown = [k for k in keys if k not in SYSTEMS] + [p for p in phases if p not in PHASES]
    if unknown:
        print(f"unknown system or phase: {', '.join(unknown)}", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[a-z0-9_]*", args.db_suffix):
        print("--db-suffix: lower-case letters, digits and _ only", file=sys.stderr)
        return 2
    systems = [
        dataclasses.replace(SYSTEMS[key], database=SYSTEMS[key].database + args.db_suffix)
        for key in keys
    ]

    started = time.monotonic()
    server = db.find_server()
    where = "embedded PostgreSQL" if server.embedded else f"{server.host}:{server.port}"
    version = db.server_version(server)
    print(
        f"Benchmark ({'quick' if args.quick else 'full'} run) on PostgreSQL {version} at "
        f"{where}, {os.cpu_count()} CPUs. Other work on this machine shows up in the figures.",
        flush=True,
    )
    harness = runner.Harness(server, plan, args.output.parent)
    try:
        results = run_phases(harness, systems, phases)
    finally:
        harness.close()
    cores = psutil.cpu_count() or 1
    rows = report.build_rows(results, list(plan.drain_configs), cores)
    duration = time.monotonic() - started
    print()
    print(report.render(rows))
    if args.markdown:
        print()
        print(report.render(rows, markdown=True))
    document = {
        "run": {
            "kind": "quick" if args.quick else "full",
            "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "duration_s": round(duration, 1),
            "plan": dataclasses.asdict(plan),
            "systems": {s.key: s.label for s in systems},
            "worker_commands": {s.key: command_line(s.worker_argv(10, True)) for s in systems},
            "ours_worker": command_line(OURS_WORKER),
            **({"django_tasks": dj_phase.describe(plan)} if dj_phase.PHASE in phases else {}),
        },
        "machine": {**machine(), "cores": cores, "postgresql": version, "server": where},
        "table": [r.as_dict() for r in rows],
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nWritten to {args.output} ({duration:.0f} s)")
    failed = [
        f"{key} {d.get('task', 'noop')} c{d['concurrency']} p{d.get('processes', 1)}"
        for key, data in results.items()
        for d in [*data.get("drains", []), *data.get("real", [])]
        if not d["ok"]
    ]
    failed += dj_phase.failures(results)
    if failed:
        print(f"Some drains did not run cleanly: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
