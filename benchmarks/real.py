"""Drains of "real" tasks (REAL, in benchmarks.tasks), each next to its floor from the same run.

For each kind of task: the floor (benchmarks.floor: the function called directly, no queue),
then every selected system's drain of the same number of jobs at the same concurrency, one
process. PgQueuer has no such tasks in this harness (its entrypoints are async-only), so it is
left out.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from benchmarks import db, figures, runner
from benchmarks.systems import PY, System

KEYS = ("ours", "stock")
# Task (a function of benchmarks.tasks, which the harness does not import: it needs Django) and
# how the table calls its jobs.
REAL = {
    "noop_sync": "sync no-op",
    "orm_sync": "sync ORM",
    "orm_async": "async ORM",
}


def floor(harness: runner.Harness, system: System, task: str) -> dict[str, Any]:
    concurrency, jobs = harness.plan.real_concurrency, harness.plan.real_jobs
    result: dict[str, Any] = {"task": task, "concurrency": concurrency, "jobs": jobs}
    env = system.env(
        harness.server.url(system.database),
        {"BENCH_PROBE_FILE": harness.stamp_path, "BENCH_PROBE_SLOT": "0"},
    )
    log_path = harness.logs / f"floor-{task}.log"
    harness.stamps.reset()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [PY, "-m", "benchmarks.floor", task, str(concurrency), str(jobs)],
            cwd=db.ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            code = process.wait(timeout=120 + jobs / 20)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    stamp = harness.stamps.read(1)[0]
    problems = []
    if code:
        problems.append(f"exit code {code}")
    if stamp.count < jobs:
        problems.append(f"only {stamp.count} of {jobs} calls ran")
    if stamp.count > 1:
        result["span_s"], result["jobs_per_s"] = figures.stamp_rate([stamp])
        result["cpu_ms_per_job"] = 1000 * (stamp.last_cpu - stamp.first_cpu) / (stamp.count - 1)
    result["ok"] = not problems
    result["error"] = "; ".join(problems) or None
    if problems:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        harness.say(f"  floor {task}: PROBLEM: {result['error']}; its log ends with:\n{tail}")
    return result


def run(harness: runner.Harness, systems: list[System]) -> dict[str, list[dict[str, Any]]]:
    """Drains and floors, by system key ("floor" for the floors), each a list over the tasks."""
    chosen = [system for system in systems if system.key in KEYS]
    results: dict[str, list[dict[str, Any]]] = {}
    if not chosen:
        return results
    concurrency, jobs = harness.plan.real_concurrency, harness.plan.real_jobs
    for task, label in REAL.items():
        harness.say(f"Drain {jobs:,} {label} jobs, concurrency {concurrency}, 1 worker process")
        started = time.monotonic()
        # The floor needs Django's auth_user table, which both systems' databases have.
        done = floor(harness, chosen[0], task)
        results.setdefault("floor", []).append(done)
        harness.say(f"  floor (direct calls): {_rate(done.get('jobs_per_s'))}")
        for system in chosen:
            drain = harness.drain(system, concurrency, 1, jobs, task=task)
            results.setdefault(system.key, []).append(figures.as_dict(drain))
            harness.say(f"  {system.label}: {figures.drain_summary(drain)}")
        harness.say(f"  ({time.monotonic() - started:.0f} s)")
    return results


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} jobs/s"
