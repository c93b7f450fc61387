"""Single pieces of the worker measured apart from a drain: `python -m benchmarks.tools.micro`.

Not part of `make bench`; docs/performance.md quotes them. Runs in this process on ours' benchmark
database (`bench_taiga`, created and migrated when missing, its queue emptied):

- job lines: `JobLog.started` against a plain `logger.info` of the same line, with logging's
  formatter and the project's, 50,000 lines each to /dev/null;
- fetches: a one-job and a ten-job fetch (`BatchingJobManager.fetch_jobs`) on the worker's own
  pool (`worker_pool`) of one connection, with its statements prepared and without (as
  `prepare_threshold: None` in the database's OPTIONS makes it), from a queue of 30,000;
- plans: `EXPLAIN ANALYZE` of a ten-job fetch and of recording ten outcomes (the third of each,
  caches warm): planning and execution time, and the time in each trigger;
- thread hand-overs: bursts of 10 no-op calls, as a fetch of 10 sync jobs makes them, with a
  0.2 ms pause between bursts (the next fetch), 20,000 calls through the worker's `JobThreads`
  (10 threads) and through asgiref's `sync_to_async(thread_sensitive=False)`, which Procrastinate
  uses: process CPU per call;
- the worker's metrics (`--metrics-port`): what counting one job costs (`WorkerMetrics.started`,
  `ended` and `waited`, 200,000 jobs), and the ten-job fetch's server time with and without the
  wait column (`EXPLAIN ANALYZE` in a rolled-back transaction, 1,500 of each, alternated: medians).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

from benchmarks import db
from benchmarks.systems import SYSTEMS

LINES = 50_000
QUEUED = 30_000
FETCHES = {1: 2_000, 10: 500}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_FILL = (
    "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
    "SELECT 'default', 'benchmarks.tasks.noop', '{}' FROM generate_series(1, %s)"
)


def job_lines() -> None:
    from procrastinate.jobs import Job

    from taiga.base.log_format import Formatter
    from taiga.tasksqueue.worker.jobs import job_log

    logger = job_log.logger
    saved = (logger.handlers[:], logger.level, logger.propagate)
    job = Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="noop", attempts=0)
    fields = {"task": "noop", "id": 1, "queue": "default", "attempt": 1}
    log = job_log.JobLog()

    def plain() -> None:
        logger.info(job_log._STARTED, *fields.values(), extra={"job": fields})

    def ours() -> None:
        log.started(job, 1)

    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        with open(os.devnull, "w") as devnull:
            for formatter, line in (
                (logging.Formatter, plain),
                (logging.Formatter, ours),
                (Formatter, ours),
            ):
                handler = logging.StreamHandler(devnull)
                handler.setFormatter(formatter(FORMAT))
                logger.handlers = [handler]
                started = time.perf_counter()
                for _ in range(LINES):
                    line()
                spent = (time.perf_counter() - started) / LINES * 1e6
                name = "logger.info" if line is plain else "JobLog.started"
                print(f"  {name} with {formatter.__module__}.Formatter: {spent:.1f} us a line")
    finally:
        logger.handlers, logger.level, logger.propagate = saved


def _refill(connection: Any) -> int:
    connection.execute("TRUNCATE procrastinate_jobs CASCADE")
    connection.execute(_FILL, [QUEUED])
    connection.execute("ANALYZE procrastinate_jobs")
    worker_id: int = connection.execute("SELECT procrastinate_register_worker_v1()").fetchone()[0]
    return worker_id


@contextlib.contextmanager
def _database_options(**options: Any) -> Iterator[None]:
    """The worker's database with these OPTIONS for the block, as if set in DATABASES."""
    from django.db import connections

    from taiga.tasksqueue.conf import tq_settings

    settings = connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].settings_dict
    saved = settings.get("OPTIONS", {})
    settings["OPTIONS"] = {**saved, **options}
    try:
        yield
    finally:
        settings["OPTIONS"] = saved


async def _fetch_times(worker_id: int) -> dict[int, float]:
    from taiga.tasksqueue.worker.jobs.statements import BatchingJobManager
    from taiga.tasksqueue.worker.queue_db.pool import worker_pool
    from taiga.tasksqueue.worker.queue_db.reconnect import ReconnectingConnector

    times = {}
    async with worker_pool(1) as pool:
        connector = ReconnectingConnector()
        await connector.open_async(pool)
        jobs = BatchingJobManager(connector)
        for count, repeats in FETCHES.items():
            for _ in range(10):  # past psycopg's threshold, and the server's plan choice
                await jobs.fetch_jobs(None, worker_id, count)
            started = time.perf_counter()
            for _ in range(repeats):
                await jobs.fetch_jobs(None, worker_id, count)
            times[count] = (time.perf_counter() - started) / repeats * 1000
    return times


def fetches(server: db.Server, database: str) -> None:
    # Not prepared: what `prepare_threshold: None` in the database's OPTIONS gives the worker.
    with server.connect(database) as connection:
        for label, options in (("not prepared", {"prepare_threshold": None}), ("prepared", {})):
            with _database_options(**options):
                times = asyncio.run(_fetch_times(_refill(connection)))
            each = ", ".join(f"{count} job(s) {ms:.3f} ms" for count, ms in times.items())
            print(f"  fetch, {label}: {each} per statement")
        connection.execute("TRUNCATE procrastinate_jobs CASCADE")


def _explain(connection: Any, statement: str, runs: list[dict[str, Any]]) -> None:
    """The plan's timings for the last of `runs` (the first ones warm the server's caches)."""
    for arguments in runs:
        plan = connection.execute("EXPLAIN (ANALYZE) " + statement, arguments).fetchall()
    for (line,) in plan:
        if line.startswith(("Trigger", "Execution Time", "Planning Time")):
            print(f"    {line}")


def plans(server: db.Server, database: str) -> None:
    from taiga.tasksqueue.worker.jobs.queries import FINISH_JOBS, fetch_statement

    runs = 3
    with server.connect(database) as connection:
        worker_id = _refill(connection)
        print("  a ten-job fetch:")
        fetch = {"queues": None, "worker_id": worker_id}
        _explain(connection, fetch_statement(10), [fetch] * runs)
        doing = "SELECT id FROM procrastinate_jobs WHERE status = 'doing' ORDER BY id"
        ids = [row[0] for row in connection.execute(doing).fetchall()]
        print("  ten outcomes recorded:")
        outcomes = [
            {
                "job_ids": ids[start : start + 10],
                "statuses": ["succeeded"] * 10,
                "delete_jobs": [False] * 10,
            }
            for start in range(0, 10 * runs, 10)
        ]
        _explain(connection, FINISH_JOBS, outcomes)
        connection.execute("TRUNCATE procrastinate_jobs CASCADE")


HANDOVERS = 20_000
BURST = 10


def thread_handovers() -> None:
    from asgiref.sync import sync_to_async

    from taiga.tasksqueue.worker.task_runtime.job_threads import JobThreads

    def noop() -> None:
        pass

    async def bursts(call: Any) -> float:
        started = time.process_time()
        for _ in range(HANDOVERS // BURST):
            await asyncio.gather(*(call(noop) for _ in range(BURST)))
            await asyncio.sleep(0.0002)
        return 1000 * (time.process_time() - started) / HANDOVERS

    threads = JobThreads(BURST)
    try:
        ours = asyncio.run(bursts(threads.call))
    finally:
        threads.stop()
    asgiref = asyncio.run(bursts(lambda func: sync_to_async(func, thread_sensitive=False)()))
    print(f"  JobThreads: {ours:.3f} ms CPU per call; asgiref's sync_to_async: {asgiref:.3f} ms")


COUNTED = 200_000
EXPLAINED = 1_500


def worker_metrics(server: db.Server, database: str) -> None:
    from procrastinate.jobs import Job

    from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
    from taiga.tasksqueue.worker.jobs.queries import fetch_statement

    metrics = WorkerMetrics()
    job = Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="noop")
    rows = [{"task_name": "noop", "queue_name": "default", "waited": 0.01}]
    started = time.perf_counter()
    for _ in range(COUNTED):
        metrics.waited(rows)
        metrics.started(job)
        metrics.ended(job, "succeeded", 0.001)
    spent = (time.perf_counter() - started) / COUNTED * 1e6
    print(f"  counting one job (waited, started, ended): {spent:.2f} us")
    times: dict[bool, list[float]] = {False: [], True: []}
    with server.connect(database) as connection:
        fetch = {"queues": None, "worker_id": _refill(connection)}
        for run in range(2 * EXPLAINED):
            waited = bool(run % 2)
            statement = "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + fetch_statement(10, waited)
            with connection.transaction(force_rollback=True):
                row = connection.execute(statement, fetch).fetchone()
            assert row is not None
            plan: Any = row[0]
            times[waited].append(plan[0]["Execution Time"])
        connection.execute("TRUNCATE procrastinate_jobs CASCADE")
    for waited, label in ((False, "without"), (True, "with")):
        print(
            f"  a ten-job fetch {label} the wait column: {statistics.median(times[waited]):.3f} ms"
        )


def main() -> None:
    server = db.find_server()
    system = SYSTEMS["ours"]
    system.setup(server)
    os.environ.update(system.env(server.url(system.database)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taiga.conf.settings")
    import django

    django.setup()
    print(f"Job lines ({LINES:,} each, to /dev/null)")
    job_lines()
    print(f"Fetches from a queue of {QUEUED:,}, one connection")
    fetches(server, system.database)
    print("Plans (EXPLAIN ANALYZE)")
    plans(server, system.database)
    print(f"Thread hand-overs ({HANDOVERS:,} calls in bursts of {BURST})")
    thread_handovers()
    print("Worker metrics (--metrics-port)")
    worker_metrics(server, system.database)


if __name__ == "__main__":
    main()
