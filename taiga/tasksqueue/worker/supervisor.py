"""Keeping a worker running through database outages, and its jobs from being lost.

Procrastinate's worker ends when a statement fails (the error is raised) or when one of its side
tasks (heartbeat, LISTEN) fails (it just stops). Unless a stop was asked for, both mean a database
outage here: the supervisor logs one line, waits (capped exponential backoff), puts back in the
queue the jobs the dead worker left in "doing", and starts a new worker. While a worker runs, an
audit puts back the jobs it left in "doing" without running them (a fetch whose answer was lost
with its connection, a finish that never got through).
"""

import asyncio
import contextlib
import logging

from django.utils import timezone
from procrastinate import App, exceptions
from procrastinate.app import WorkerOptions as ProcrastinateWorkerOptions

from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
from taiga.tasksqueue.text import first_line
from taiga.tasksqueue.worker import LOGGER_NAME
from taiga.tasksqueue.worker.jobs.job_log import JobLog
from taiga.tasksqueue.worker.jobs.lean_worker import LeanWorker
from taiga.tasksqueue.worker.jobs.statements import BatchingJobManager
from taiga.tasksqueue.worker.options import WorkerOptions, worker_kwargs
from taiga.tasksqueue.worker.outages import Outages
from taiga.tasksqueue.worker.queue_db.reconnect import Backoff, connection_lost
from taiga.tasksqueue.worker.task_runtime.connections import JobConnections
from taiga.tasksqueue.worker.task_runtime.job_threads import JobThreads

logger = logging.getLogger(LOGGER_NAME)

# How often a running worker looks for its own jobs left in "doing" that it is not running.
AUDIT_INTERVAL_SECONDS = 10.0
# How long a stopping worker looks for the jobs it lost track of: a database that does not answer
# by then will not take the unregistering either, and the restart puts them back.
PUT_BACK_SECONDS = 2.0

_OWN_JOBS_IN_DOING = (
    "SELECT id, task_name, queue_name FROM procrastinate_jobs"
    " WHERE status = 'doing' AND worker_id = %(worker_id)s"
)

# A job's task and queue, by job id.
JobsInDoing = dict[int, tuple[str, str]]


class Supervisor:
    def __init__(
        self,
        app: App,
        options: WorkerOptions,
        job_log: JobLog,
        jobs: BatchingJobManager,
        connections: JobConnections,
        threads: JobThreads,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.app = app
        self.options = options
        self.job_log = job_log
        self.jobs = jobs
        self.connections = connections
        self.threads = threads
        self.metrics = metrics
        self.worker: LeanWorker | None = None
        self.outages = Outages()
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
                    if self.metrics is not None:
                        self.metrics.reconnected()
                self.worker = LeanWorker(
                    app=self.app,
                    jobs=self.jobs,
                    job_log=self.job_log,
                    run_in_thread=self.threads.call,
                    metrics=self.metrics,
                    before_unregister=self._put_back_lost_jobs,
                    outages=self.outages,
                    **self._worker_kwargs(),
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
            self.outages.lost()
            delay = backoff.next_delay()
            logger.warning(
                "database unavailable (%s); restarting the worker in %.1fs", reason, delay
            )
            await asyncio.sleep(delay)

    def _worker_kwargs(self) -> ProcrastinateWorkerOptions:
        # The app's defaults carry the Django integration's per-task connection closing, replaced
        # by the keeping of connections across jobs (`connections.py`).
        defaults = self.app.worker_defaults
        return {
            **defaults,
            **worker_kwargs(self.options),
            "task_middleware": self.connections.middleware(
                list(defaults.get("task_middleware") or [])
            ),
        }

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
                in_doing = await self._own_jobs_in_doing(worker.worker_id)
                stuck = in_doing.keys() - self.job_log.running.keys()
                for job_id in stuck & suspects:
                    await self._requeue(job_id, in_doing[job_id], "its worker lost track of it")
                suspects = stuck - suspects
            except exceptions.ConnectorException as exc:
                logger.warning("could not look for lost jobs (%s)", first_line(exc))

    async def _put_back_lost_jobs(self, worker: LeanWorker) -> None:
        """At the stop, the worker's jobs in "doing" that it does not handle: a fetch's answer
        lost with its connection left them there, and the audit may not have seen them twice."""
        if worker.worker_id is None:
            return
        try:
            async with asyncio.timeout(PUT_BACK_SECONDS):
                in_doing = await self._own_jobs_in_doing(worker.worker_id)
                for job_id in in_doing.keys() - worker.handled_job_ids():
                    await self._requeue(job_id, in_doing[job_id], "its worker lost track of it")
        except (exceptions.ConnectorException, TimeoutError) as exc:
            # Unregistering then fails too, and the restart puts them back; if the database
            # answers again by then, the rescue of stalled jobs does.
            reason = first_line(exc) if str(exc) else f"no answer in {PUT_BACK_SECONDS:g} s"
            logger.warning("could not look for lost jobs at the stop (%s)", reason)

    async def _own_jobs_in_doing(self, worker_id: int) -> JobsInDoing:
        rows = await self.app.connector.execute_query_all_async(
            _OWN_JOBS_IN_DOING, worker_id=worker_id
        )
        return {row["id"]: (row["task_name"], row["queue_name"]) for row in rows}

    async def _requeue_jobs_of(self, worker_id: int) -> None:
        for job_id, task_queue in (await self._own_jobs_in_doing(worker_id)).items():
            await self._requeue(job_id, task_queue, "its worker lost the database")
        await self.app.job_manager.unregister_worker(worker_id)

    async def _requeue(self, job_id: int, task_queue: tuple[str, str], reason: str) -> None:
        await self.app.job_manager.retry_job_by_id_async(job_id, retry_at=timezone.now())
        logger.warning("job %d put back in the queue: %s", job_id, reason)
        if self.metrics is not None:
            self.metrics.rescued(*task_queue)
