"""Running a worker: its own PostgreSQL pool, separate from Django's connections, one log line per
job start and end, a graceful stop on SIGTERM or SIGINT (a second signal stops it at once), and a
supervisor that keeps it running through database outages."""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
from django.db import connections
from django.utils import timezone
from procrastinate import App, exceptions
from procrastinate.app import WorkerOptions as ProcrastinateWorkerOptions
from procrastinate.contrib.django import connector_params

from taiga.tasksqueue import retry
from taiga.tasksqueue.batching import BatchingJobManager
from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.database import first_line
from taiga.tasksqueue.db_cleanup import AsyncTaskConnections
from taiga.tasksqueue.job_log import JobLog
from taiga.tasksqueue.lean_worker import LeanWorker
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.resilience import Backoff, ReconnectingConnector, connection_lost

logger = logging.getLogger(__name__)

DELETE_JOBS_CHOICES = ("never", "successful", "always")
DEFAULT_NAME = "worker"

# After the shutdown timeout Procrastinate cancels the async jobs still running and records them
# as aborted, which takes a moment; sync jobs cannot be cancelled and would keep it waiting.
ABORT_GRACE_SECONDS = 5.0

# How often a running worker looks for its own jobs left in "doing" that it is not running (a
# fetch whose answer was lost with its connection, a finish that never got through).
AUDIT_INTERVAL_SECONDS = 10.0

POOL_WAIT_SECONDS = 5.0

PREPARE_THRESHOLD = 5  # psycopg's own default

_OWN_JOBS_IN_DOING = (
    "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %(worker_id)s"
)


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1
    queues: tuple[str, ...] = ()  # empty: every queue
    name: str | None = None
    one_shot: bool = False  # process the jobs that are ready now, then return
    delete_jobs: str = "never"
    shutdown_timeout: float | None = None  # None: let running jobs take as long as they need
    install_signal_handlers: bool = True


# One connection fetching, one recording outcomes (both one statement at a time, whatever the
# concurrency), one for the rest: heartbeats, retries, abort polling, the periodic deferrer. LISTEN
# has a connection of its own, outside the pool. Few connections, each busy, measured faster than
# one per job: the pool hands its idle connections out in turn, so with more of them each
# statement lands on a server process that has been idle longer (benchmarks: 17 % at
# concurrency 10).
POOL_SIZE = 3


def worker_kwargs(options: WorkerOptions) -> ProcrastinateWorkerOptions:
    kwargs: ProcrastinateWorkerOptions = {
        "concurrency": options.concurrency,
        "name": options.name or DEFAULT_NAME,
        "wait": not options.one_shot,
        "delete_jobs": options.delete_jobs,
        # Signals are handled here (see GracefulStop), so that a second one can stop at once.
        "install_signal_handlers": False,
        "update_heartbeat_interval": tq_settings.HEARTBEAT_SECONDS,
        # A starting worker forgets the workers silent this long (their jobs are then rescued).
        "stalled_worker_timeout": tq_settings.STALLED_AFTER_SECONDS,
    }
    # Procrastinate reads "no queues" and "no timeout" from absent keys.
    if options.queues:
        kwargs["queues"] = list(options.queues)  # psycopg sends a list as an array, a tuple not
    if options.shutdown_timeout is not None:
        kwargs["shutdown_graceful_timeout"] = options.shutdown_timeout
    return kwargs


def describe_queues(queues: tuple[str, ...]) -> str:
    return f"queues {', '.join(queues)}" if queues else "all queues"


def pool_params(alias: str) -> dict[str, Any]:
    """Django's parameters for the database, with statements prepared unless its OPTIONS say.

    psycopg prepares a statement the fifth time a connection runs it: parsed and planned once,
    then only executed. Django turns that off unless OPTIONS ask for it, so that a pooler in
    transaction mode keeps working. The worker runs the same few statements thousands of times,
    and planning them every time cost up to a third of its drain rate (docs/performance.md). A
    `prepare_threshold` in the database's OPTIONS still wins: None there (a pooler that cannot
    keep prepared statements) turns preparing off for the worker too.
    """
    params = connector_params(alias)
    if "prepare_threshold" not in connections[alias].settings_dict.get("OPTIONS", {}):
        params["prepare_threshold"] = PREPARE_THRESHOLD
    return params


async def _autocommit(connection: psycopg.AsyncConnection[Any]) -> None:
    await connection.set_autocommit(True)


@contextlib.asynccontextmanager
async def worker_pool(size: int) -> AsyncIterator[psycopg_pool.AsyncConnectionPool]:
    """The worker's own pool, separate from Django's connections, built for speed.

    Every statement the worker sends stands alone (a function call, an INSERT, one CTE), so
    autocommit connections lose nothing and save a BEGIN and a COMMIT round trip each.
    Connections are not checked on checkout (one more round trip per statement): a dead one fails
    its statement, which `ReconnectingConnector` sends again after the pool has dropped the dead
    connections.
    """
    pool = psycopg_pool.AsyncConnectionPool(
        kwargs=pool_params(tq_settings.DATABASE_ALIAS),
        min_size=size,
        max_size=size,
        open=False,
        configure=_autocommit,
        # How long a statement waits for a connection. Statements take milliseconds, so a wait
        # this long means the server is unreachable: fail fast and let the supervisor take over,
        # rather than psycopg's 30 s per statement.
        timeout=POOL_WAIT_SECONDS,
        name="tasksqueue-worker",
    )
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.contextmanager
def periodic_schedules_paused(app: App) -> Iterator[None]:
    """Empty the app's periodic registry for the block.

    A starting worker defers every schedule that fell due in the last ten minutes; a one-shot run
    (cron-style runs, tests) processes the jobs that exist and nothing else. The worker reads this
    public registry when it starts.
    """
    registry = app.periodic_registry
    schedules = registry.periodic_tasks
    registry.periodic_tasks = {}
    try:
        yield
    finally:
        registry.periodic_tasks = schedules


async def run_worker(options: WorkerOptions) -> None:
    """Run a worker until it is stopped (or, with one_shot, until no job is ready)."""
    job_log = JobLog()
    name = options.name or DEFAULT_NAME
    app = manager.app
    with contextlib.ExitStack() as stack:
        stack.enter_context(app.replace_connector(ReconnectingConnector()))
        if options.one_shot:
            stack.enter_context(periodic_schedules_paused(app))
        jobs = BatchingJobManager(app.connector)
        db_cleanup = AsyncTaskConnections()
        stack.enter_context(db_cleanup.watching())
        async with worker_pool(POOL_SIZE) as pool, app.open_async(pool):
            logger.info(
                "worker %r started on %s, concurrency %d, %d database connections",
                name,
                describe_queues(options.queues),
                options.concurrency,
                POOL_SIZE,
            )
            supervisor = Supervisor(app, options, job_log, jobs, db_cleanup)
            work = asyncio.create_task(supervisor.run())
            if options.install_signal_handlers:
                await GracefulStop(work, supervisor, options.shutdown_timeout, job_log).wait()
            else:
                await work
            logger.info("worker %r stopped", name)


class Supervisor:
    """Runs the worker (`LeanWorker`) and starts it again when the database drops it.

    Procrastinate's worker ends when a statement fails (the error is raised) or when one of its
    side tasks (heartbeat, LISTEN) fails (it just stops). Unless a stop was asked for, both mean a
    database outage here: the supervisor logs one line, waits (capped exponential backoff), puts
    back in the queue the jobs the dead worker left in "doing", and starts a new one.
    """

    def __init__(
        self,
        app: App,
        options: WorkerOptions,
        job_log: JobLog,
        jobs: BatchingJobManager,
        db_cleanup: AsyncTaskConnections,
    ) -> None:
        self.app = app
        self.options = options
        self.job_log = job_log
        self.jobs = jobs
        self.db_cleanup = db_cleanup
        self.worker: LeanWorker | None = None
        self.stopping = False

    def stop(self) -> None:
        self.stopping = True
        if self.worker is not None:
            self.worker.stop()

    async def run(self) -> None:
        backoff = Backoff()
        left_behind: int | None = None  # id of a worker that died with jobs maybe in "doing"
        while not self.stopping:
            try:
                if left_behind is not None:
                    await self._requeue_jobs_of(left_behind)
                    left_behind = None
                    backoff.reset()
                # The app's defaults carry the Django integration's per-task connection cleanup;
                # the async half is replaced by one that skips needless thread hops.
                defaults = self.app.worker_defaults
                kwargs: ProcrastinateWorkerOptions = {
                    **defaults,
                    **worker_kwargs(self.options),
                    "task_middleware": self.db_cleanup.replacing_procrastinates(
                        list(defaults.get("task_middleware") or [])
                    ),
                }
                self.worker = LeanWorker(
                    app=self.app, jobs=self.jobs, job_log=self.job_log, **kwargs
                )
                await self._run_with_audit(self.worker)
            except exceptions.ConnectorException as exc:
                if not connection_lost(exc):
                    raise
                reason = first_line(exc.__cause__ or exc)
            else:
                if self.stopping or self.options.one_shot:
                    return
                reason = "a database connection of the worker dropped"
            if self.worker is not None and self.worker.worker_id is not None:
                left_behind = self.worker.worker_id
            delay = backoff.next_delay()
            logger.warning(
                "database unavailable (%s); restarting the worker in %.1fs", reason, delay
            )
            await asyncio.sleep(delay)

    async def _run_with_audit(self, worker: LeanWorker) -> None:
        audit = asyncio.create_task(self._audit(worker))
        try:
            await worker.run()  # type: ignore[no-untyped-call]  # Procrastinate's, untyped
        finally:
            audit.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await audit

    async def _audit(self, worker: LeanWorker) -> None:
        """Retry this worker's jobs that stay in "doing" without running, seen twice in a row."""
        suspects: set[int] = set()
        while True:
            await asyncio.sleep(AUDIT_INTERVAL_SECONDS)
            if worker.worker_id is None:
                continue
            try:
                stuck = await self._own_jobs_in_doing(worker.worker_id)
                stuck -= set(self.job_log.running)
                for job_id in stuck & suspects:
                    await self._requeue(job_id, "its worker lost track of it")
                suspects = stuck - suspects
            except exceptions.ConnectorException as exc:
                logger.warning("could not look for lost jobs (%s)", first_line(exc))

    async def _own_jobs_in_doing(self, worker_id: int) -> set[int]:
        rows = await self.app.connector.execute_query_all_async(
            _OWN_JOBS_IN_DOING, worker_id=worker_id
        )
        return {row["id"] for row in rows}

    async def _requeue_jobs_of(self, worker_id: int) -> None:
        for job_id in await self._own_jobs_in_doing(worker_id):
            await self._requeue(job_id, "its worker lost the database")
        await self.app.job_manager.unregister_worker(worker_id)

    async def _requeue(self, job_id: int, reason: str) -> None:
        await self.app.job_manager.retry_job_by_id_async(job_id, retry_at=timezone.now())
        logger.warning("job %d put back in the queue: %s", job_id, reason)


class GracefulStop:
    """The first SIGTERM or SIGINT stops taking jobs and lets the running ones finish, up to the
    shutdown timeout; a second signal, or running jobs that outlive the timeout, stop at once."""

    def __init__(
        self,
        work: asyncio.Task[None],
        supervisor: Supervisor,
        timeout: float | None,
        job_log: JobLog,
    ) -> None:
        self.work = work
        self.supervisor = supervisor
        self.timeout = timeout
        self.job_log = job_log
        self.received: signal.Signals | None = None
        self.deadline: asyncio.TimerHandle | None = None

    async def wait(self) -> None:
        with self._handlers_installed():
            await self.work

    @contextlib.contextmanager
    def _handlers_installed(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        stopping = (signal.SIGTERM, signal.SIGINT)
        for signum in stopping:
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            yield
        finally:
            for signum in stopping:
                loop.remove_signal_handler(signum)
            if self.deadline is not None:  # the jobs finished in time; the loop may live on
                self.deadline.cancel()

    def _on_signal(self, signum: signal.Signals) -> None:
        if self.received is not None:
            self._stop_at_once(signum, f"{signum.name} received again")
            return
        self.received = signum
        limit = "however long they take" if self.timeout is None else f"up to {self.timeout:g}s"
        logger.info(
            "%s received: taking no more jobs, letting %d running jobs finish (%s); "
            "send it again to stop at once",
            signum.name,
            len(self.job_log.running),
            limit,
        )
        # Jobs that the worker interrupts from now on (past the timeout) go back to the queue.
        retry.shutting_down.set()
        self.supervisor.stop()
        if self.timeout is not None:
            self.deadline = asyncio.get_running_loop().call_later(
                self.timeout + ABORT_GRACE_SECONDS,
                self._stop_at_once,
                signum,
                "jobs still running after the shutdown timeout",
            )

    def _stop_at_once(self, signum: signal.Signals, reason: str) -> None:
        running = ", ".join(str(job_id) for job_id in sorted(self.job_log.running)) or "none"
        logger.warning(
            "stopping at once (%s); jobs left in doing: %s (`manage.py tasksqueue status` "
            "lists them as stalled once this worker's heartbeat is stale)",
            reason,
            running,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        # At once means without waiting for running jobs, which includes sync jobs in threads
        # that nothing can interrupt; exit as a process killed by the signal would.
        os._exit(128 + signum)
