"""The "django-tasks" phase: Django's own tasks framework (`django.tasks`) on our backend, next to
the same work as plain tasks of ours and on django-tasks-db.

Three sides, each running the same no-op, sync (`noop_sync`) then async (`noop`):

- `ours`: the `@task` functions of benchmarks.dj_tasks on `TasksQueueBackend`
  (DJANGO_SETTINGS_MODULE=benchmarks.settings_ours_tasks), enqueued with `Task.enqueue()` one call
  per job from sync code, drained by `manage.py tasksqueue worker -c C --one-shot`, one process;
- `ours-plain`: the same no-ops as `@manager.task` (benchmarks.tasks), deferred with `defer_sync()`
  one call per job, drained the same way. The Django backend's own cost is ours / ours-plain;
- `tasksdb`: django-tasks-db, the same `@task` functions on its `DatabaseBackend`
  (benchmarks.settings_tasksdb, database `bench_tasksdb`), enqueued the same way, drained by its
  `manage.py db_worker --batch --no-startup-delay` in K processes (it runs one task at a time per
  process; several processes are its documented way to more throughput).

For each kind of no-op, the sides take turns, so that they share the machine's mood. Each side's
client enqueues the jobs on an emptied queue, timed inside the client as in the defers phase
(enqueue rate, client CPU, PostgreSQL CPU of its backends); the filled table is ANALYZEd; then the
workers drain it exactly as in the drains phase (benchmarks.runner.Harness.drain_filled): the
rate from the first job's start to the last job's end (sync no-op, which notes its end) or to the
last job's start (async no-op), read from the probe's stamps, and worker CPU per job from the same
stamps.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from benchmarks import db, figures, runner
from benchmarks.processes import ChildFailed, Client
from benchmarks.systems import System

PHASE = "django-tasks"
# Kind of no-op -> task function name, the same in benchmarks.dj_tasks and benchmarks.tasks.
FLAVOURS = {"sync": "noop_sync", "async": "noop"}
OURS_SETTINGS = "benchmarks.settings_ours_tasks"
OURS_TASK_MODULES = "benchmarks.tasks,benchmarks.dj_tasks"


def tasksdb_conn_max_age() -> int:
    """django-tasks-db's CONN_MAX_AGE, as benchmarks.settings_tasksdb reads it."""
    return int(os.environ.get("BENCH_TASKSDB_CONN_MAX_AGE", "600"))


@dataclass(frozen=True)
class Side:
    key: str  # its column in the table, its key in the results
    label: str
    system: System
    concurrency: int
    processes: int
    kind: str  # "django" (Task.enqueue) or "plain" (defer_sync): names its logs


def sides(systems: list[System], plan: figures.Plan) -> list[Side]:
    """The sides that the selected systems (--systems) take part in: ours gives two."""
    chosen: list[Side] = []
    for system in systems:
        if system.key == "ours":
            django = dataclasses.replace(
                system, settings=OURS_SETTINGS, client="django", task_modules=OURS_TASK_MODULES
            )
            chosen.append(
                Side("ours", "ours, django.tasks", django, plan.django_concurrency, 1, "django")
            )
            chosen.append(
                Side(
                    "ours-plain", "ours, @manager.task", system, plan.django_concurrency, 1, "plain"
                )
            )
        elif system.key == "tasksdb":
            processes = plan.tasksdb_processes
            label = f"django-tasks-db, {processes} process{'es' if processes > 1 else ''}"
            chosen.append(Side("tasksdb", label, system, 1, processes, "django"))
    return chosen


def describe(plan: figures.Plan) -> dict[str, Any]:
    """How the phase ran, for the JSON document."""
    return {
        "jobs": plan.django_jobs,
        "ours": {
            "settings": OURS_SETTINGS,
            "enqueue": "Task.enqueue(i), one call per job, sync code",
            "worker": f"manage.py tasksqueue worker -c {plan.django_concurrency} --one-shot (x1)",
        },
        "ours-plain": {
            "settings": "taiga.conf.settings",
            "enqueue": "task.defer_sync(i), one call per job",
            "worker": f"manage.py tasksqueue worker -c {plan.django_concurrency} --one-shot (x1)",
        },
        "tasksdb": {
            "settings": "benchmarks.settings_tasksdb",
            "enqueue": "Task.enqueue(i), one call per job, sync code",
            "worker": (
                f"manage.py db_worker --no-startup-delay --batch (x{plan.tasksdb_processes})"
            ),
            "conn_max_age": tasksdb_conn_max_age(),
        },
    }


def _one(
    harness: runner.Harness, side: Side, client: Client, flavour: str, task: str
) -> dict[str, Any]:
    """Enqueue, then drain, `plan.django_jobs` jobs of `task` for one side."""
    system, jobs = side.system, harness.plan.django_jobs
    backends = db.BackendCpu(harness.server, system.database)
    try:
        enqueue = harness.timed_defers(
            system, client, backends, "defer_sync", {"n": jobs, "task": task}
        )
    finally:
        backends.close()
    system.analyze_filled(harness.server)
    tag = f"{side.kind}-tasks-{flavour}-c{side.concurrency}-p{side.processes}"
    drain = harness.drain_filled(system, side.concurrency, side.processes, jobs, tag, task=task)
    harness.say(
        f"  {side.label}: enqueue {enqueue['jobs_per_s']:,.0f} jobs/s; drain "
        f"{figures.drain_summary(drain)}"
    )
    return {"enqueue": enqueue, "drain": figures.as_dict(drain)}


def run(harness: runner.Harness, systems: list[System]) -> dict[str, dict[str, Any]]:
    """The phase's figures by side key: {flavour: {"enqueue": {...}, "drain": {...}}}."""
    plan = harness.plan
    chosen = sides(systems, plan)
    results: dict[str, dict[str, Any]] = {side.key: {} for side in chosen}
    if not chosen:
        return results
    if "tasksdb" in results:
        results["tasksdb"]["config"] = {
            "processes": plan.tasksdb_processes,
            "conn_max_age": tasksdb_conn_max_age(),
        }
    clients: dict[str, Client] = {}
    try:
        for side in chosen:
            url = harness.server.url(side.system.database)
            try:
                clients[side.key] = Client(
                    side.system,
                    harness.env(side.system, url),
                    harness.log_path(side.system, f"{side.kind}-tasks-client"),
                )
            except ChildFailed as exc:
                # E.g. a backend that cannot be imported: the other sides still run.
                results[side.key]["error"] = str(exc)
                harness.say(f"  {side.label}: FAILED to start its client: {exc}")
        for flavour, task in FLAVOURS.items():
            harness.say(
                f"Django tasks: enqueue {plan.django_jobs:,} {flavour} no-op jobs one per call "
                "(sync code), then drain them"
            )
            for side in chosen:
                if side.key in clients:
                    client = clients[side.key]
                    results[side.key][flavour] = _one(harness, side, client, flavour, task)
            ratio = _ratio(results, flavour)
            if ratio is not None:
                harness.say(f"  {flavour} drain, django.tasks / @manager.task: {ratio:.2f}x")
    finally:
        for client in clients.values():
            client.close()
        for side in chosen:
            side.system.reset(harness.server)
    return results


def _ratio(results: dict[str, dict[str, Any]], flavour: str) -> float | None:
    ours = results.get("ours", {}).get(flavour, {}).get("drain", {}).get("jobs_per_s")
    plain = results.get("ours-plain", {}).get(flavour, {}).get("drain", {}).get("jobs_per_s")
    return ours / plain if ours and plain else None


def failures(results: dict[str, Any]) -> list[str]:
    """What of the phase did not run cleanly in a run's results: sides that could not start,
    drains that did not run every job to success."""
    failed = []
    for key, data in results.items():
        measured = data.get("django_tasks", {})
        if "error" in measured:
            failed.append(f"{key} django-tasks (did not start)")
        for flavour in FLAVOURS:
            drain = measured.get(flavour, {}).get("drain")
            if drain is not None and not drain["ok"]:
                failed.append(f"{key} django-tasks {flavour} no-op")
    return failed
