"""Running a worker: its connector and pool, the supervisor, the signals, one line at start and
stop. What each part does is in its own module (see `taiga/tasksqueue/worker/__init__.py`)."""

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from procrastinate import App

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.observability.worker_http import worker_endpoints
from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
from taiga.tasksqueue.worker import LOGGER_NAME
from taiga.tasksqueue.worker.jobs.job_log import JobLog
from taiga.tasksqueue.worker.jobs.statements import BatchingJobManager
from taiga.tasksqueue.worker.options import WorkerOptions
from taiga.tasksqueue.worker.queue_db.budget import ConnectionBudget
from taiga.tasksqueue.worker.queue_db.listen_probe import PROBE_TIMEOUT_SECONDS, listen_is_heard
from taiga.tasksqueue.worker.queue_db.pool import POOL_SIZE, worker_pool
from taiga.tasksqueue.worker.queue_db.reconnect import ReconnectingConnector
from taiga.tasksqueue.worker.shutdown import GracefulStop
from taiga.tasksqueue.worker.supervisor import Supervisor
from taiga.tasksqueue.worker.task_runtime.connections import JobConnections
from taiga.tasksqueue.worker.task_runtime.job_threads import JobThreads

logger = logging.getLogger(LOGGER_NAME)


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
    job_log = JobLog(options.worker_name)
    app = manager.app
    with contextlib.ExitStack() as stack:
        metrics = WorkerMetrics() if options.metrics_port is not None else None
        connector = ReconnectingConnector(metrics)
        stack.enter_context(app.replace_connector(connector))
        if options.one_shot:
            stack.enter_context(periodic_schedules_paused(app))
        jobs = BatchingJobManager(connector, metrics)
        job_connections = JobConnections(tq_settings.TASKSQUEUE_WORKER_CONN_MAX_AGE)
        stack.enter_context(job_connections.watching())
        threads = JobThreads(options.concurrency)
        stack.callback(threads.stop)
        async with worker_pool(POOL_SIZE) as pool, app.open_async(pool):
            logger.info(
                "worker %r started on %s, concurrency %d, %s%s",
                options.worker_name,
                options.describe_queues(),
                options.concurrency,
                ConnectionBudget(options.concurrency, options.listen).describe(),
                "" if options.listen else f", polling every {options.poll_interval:g}s",
            )
            # A one-shot run returns before a notification could matter.
            if options.listen and not options.one_shot and await listen_is_heard(pool) is False:
                logger.warning(
                    "worker %r: its LISTEN connection heard nothing in %gs (a pooler in "
                    "transaction mode?); jobs are found only by polling every %gs; set "
                    "TASKSQUEUE_WORKER_DATABASE_URL to a direct or session-mode connection, or "
                    "run with --no-listen",
                    options.worker_name,
                    PROBE_TIMEOUT_SECONDS,
                    options.poll_interval,
                )
            supervisor = Supervisor(app, options, job_log, jobs, job_connections, threads, metrics)
            async with worker_endpoints(options, metrics, job_log, connector, supervisor):
                work = asyncio.create_task(supervisor.run())
                if options.install_signal_handlers:
                    await GracefulStop(work, supervisor, options.shutdown_timeout, job_log).wait()
                else:
                    await work
            await job_connections.close_orm_thread()
            logger.info("worker %r stopped", options.worker_name)
