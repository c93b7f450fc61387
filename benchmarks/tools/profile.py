"""Where a worker's CPU goes while it drains: `python -m benchmarks.tools.profile --system stock`.

Fills the system's benchmark database with no-op jobs (as `make bench` does), runs one worker in
one-shot mode under py-spy (`pip install py-spy`; sampling, so the worker runs at nearly full
speed) and prints where the samples fell: by package of the innermost frame (self time), and the
top functions. Only samples taken while the event loop runs are counted, so start-up imports are
left out. The raw stacks stay in benchmarks/results/profile-SYSTEM.txt for a flame graph.

Not part of `make bench`: a profiler slows the worker, so its figures are not throughput.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import db
from benchmarks.processes import Client
from benchmarks.systems import SYSTEMS

RESULTS = db.ROOT / "benchmarks" / "results"
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]*)(?::\d+)?\)$")

IDLE = "idle"  # waiting in epoll (for the database) or an idle pool thread waiting for work
# Innermost-frame file (as py-spy shortens it) -> what the time is spent on; first match wins.
CATEGORIES = (
    ("psycopg_pool/", "psycopg_pool (connection pool)"),
    ("psycopg/", "psycopg (driver, protocol, adaptation)"),
    ("procrastinate/", "procrastinate"),
    ("pgqueuer/", "pgqueuer"),
    ("taiga/", "taiga.tasksqueue"),
    ("benchmarks/", "benchmark task body"),
    ("django/", "django"),
    ("asgiref/", "asgiref"),
    ("attr/", "attrs (asdict for log extras, ...)"),
    ("logging/", "logging"),
    ("asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
    ("json/", "json"),
    ("anyio/", "anyio"),
    ("pydantic", "pydantic"),
    ("uuid.py", "uuid"),
    ("datetime.py", "datetime"),
    ("contextlib.py", "contextlib"),
    ("threading.py", "threads (thread pool hand-offs)"),
    ("concurrent/", "threads (thread pool hand-offs)"),
    ("typing.py", "typing"),
    ("functools.py", "functools"),
)


# Inclusive view: busy samples whose stack passes through a frame containing any of these.
STAGES = (
    ("fetching jobs", ("fetch_job", "dequeue (pgqueuer", "fetch_jobs (pgqueuer")),
    (
        "finishing jobs (status, events)",
        ("finish_job", "_persist_job_status", "log_jobs", "_send_outcomes (taiga/"),
    ),
    ("starting jobs (context, task)", ("LeanWorker._start",)),
    ("pool connection check on checkout", ("check_connection",)),
    ("transactions (BEGIN/COMMIT)", ("_exec_command", "AsyncTransaction")),
    ("Django DB cleanup around each job", ("close_db_connections_async",)),
    ("logging (records, formatting, handlers)", ("(logging/",)),
    ("log extras (attrs.asdict)", ("asdict (attr/",)),
    ("the task itself", ("(benchmarks/tasks.py", "(benchmarks/pgq_app.py")),
)


def category(frame: str) -> str:
    if frame.startswith(("EpollSelector.select", "PollSelector.select", "select (")):
        return IDLE
    if frame.startswith("_worker (concurrent/futures/thread.py"):
        return IDLE  # a thread pool thread blocked in its queue's get()
    match = FRAME.match(frame)
    path = match.group("file") if match else frame
    for fragment, name in CATEGORIES:
        if fragment in path:
            return name
    if match and not path.endswith(".py"):
        return "C code / builtins"
    return "other Python"


def short(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match.group("file")
    for marker in ("site-packages/", "python3.13/", f"{db.ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match.group('function')} ({path})"


def summarize(raw: Path, jobs: int, cpu_ms_per_job: float | None) -> str:
    by_category: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    by_stage: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if any("_find_and_load" in frame or "django.setup" in frame for frame in frames):
            continue  # start-up imports
        count = int(count_text)
        kind = category(frames[-1])
        if kind == IDLE:
            idle += count
            continue
        total += count
        by_category[kind] += count
        by_function[short(frames[-1])] += count
        for stage, markers in STAGES:
            if any(marker in frame for frame in frames for marker in markers):
                by_stage[stage] += count
    if not total:
        return "no samples"
    lines = [
        f"{total} busy samples ({idle} more idle, in epoll or in a pool thread waiting for work, "
        f"left out), {jobs} jobs"
    ]
    if cpu_ms_per_job is not None:
        lines.append(f"worker CPU per job (from the task stamps): {cpu_ms_per_job:.2f} ms")
    lines.append("")
    lines.append("self time by package of the innermost frame (share of busy samples):")
    for name, count in by_category.most_common():
        share = count / total
        per_job = f"  ~{share * cpu_ms_per_job:.3f} ms/job" if cpu_ms_per_job else ""
        lines.append(f"  {100 * share:5.1f}%  {name}{per_job}")
    lines.append("")
    lines.append("inclusive: busy samples that pass through (stages overlap):")
    for stage, _ in STAGES:
        share = by_stage[stage] / total
        per_job = f"  ~{share * cpu_ms_per_job:.3f} ms/job" if cpu_ms_per_job else ""
        lines.append(f"  {100 * share:5.1f}%  {stage}{per_job}")
    lines.append("")
    lines.append("top functions (self time, share of busy samples):")
    for name, count in by_function.most_common(25):
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tools.profile", description=__doc__)
    # Not django-tasks-db: its client has no batch defer to fill the queue with.
    systems = sorted(key for key, system in SYSTEMS.items() if system.only_phase is None)
    parser.add_argument("--system", choices=systems, default="ours")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--task",
        default="noop",
        help="the benchmark task to drain (benchmarks/tasks.py: noop, noop_sync, orm_sync, ...)",
    )
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL: needed for sync tasks, whose idle threads "
        "wait in C where py-spy cannot tell them from busy ones",
    )
    args = parser.parse_args(argv)

    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    system = SYSTEMS[args.system]
    server = db.find_server()
    system.setup(server)
    RESULTS.mkdir(parents=True, exist_ok=True)
    url = server.url(system.database)
    stamp_path = RESULTS / "profile-stamps.bin"
    from benchmarks.probe import StampReader, create_stamp_file

    create_stamp_file(str(stamp_path))
    env = system.env(url, {"BENCH_PROBE_FILE": str(stamp_path), "BENCH_PROBE_SLOT": "0"})
    client = Client(system, env, RESULTS / f"profile-{system.key}-client.log")
    try:
        client.run(
            "defer_many",
            {"n": args.jobs, "batch": 1000, "task": args.task},
            before=lambda: system.reset(server),
        )
    finally:
        client.close()
    system.analyze_filled(server)

    raw = RESULTS / f"profile-{system.key}.txt"
    argv_worker = system.worker_argv(args.concurrency, one_shot=True)
    command = [
        py_spy,
        "record",
        *(["--gil"] if args.gil else []),
        "--format",
        "raw",
        "--rate",
        str(args.rate),
        "-o",
        str(raw),
        "--",
        *argv_worker,
    ]
    print(f"$ {' '.join(command)}", flush=True)
    started = time.monotonic()
    with (RESULTS / f"profile-{system.key}-worker.log").open("wb") as log:
        subprocess.run(command, cwd=db.ROOT, env=env, stdout=log, stderr=log, check=True)
    stamp = StampReader(str(stamp_path)).read(1)[0]
    cpu_ms = 1000 * (stamp.last_cpu - stamp.first_cpu) / max(1, stamp.count - 1)
    rate = (stamp.count - 1) / (stamp.last_wall - stamp.first_wall) if stamp.count > 1 else 0
    print(
        f"{system.label}, concurrency {args.concurrency}: {stamp.count} jobs, {rate:,.0f} jobs/s "
        f"under the profiler, {time.monotonic() - started:.1f} s in all"
    )
    print(summarize(raw, stamp.count, cpu_ms))
    system.reset(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
