"""Running a worker: its own PostgreSQL pool, separate from Django's connections, one log line per
job start and end, and a graceful stop on SIGTERM or SIGINT (a second signal stops it at once)."""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from procrastinate.app import WorkerOptions as ProcrastinateWorkerOptions

from taiga.tasksqueue.database import psycopg_connector
from taiga.tasksqueue.job_log import JobLog, unknown_tasks_logged_once
from taiga.tasksqueue.manager import manager

logger = logging.getLogger(__name__)

DELETE_JOBS_CHOICES = ("never", "successful", "always")
DEFAULT_NAME = "worker"

# After the shutdown timeout Procrastinate cancels the async jobs still running and records them
# as aborted, which takes a moment; sync jobs cannot be cancelled and would keep it waiting.
ABORT_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1
    queues: tuple[str, ...] = ()  # empty: every queue
    name: str | None = None
    one_shot: bool = False  # process the jobs that are ready now, then return
    delete_jobs: str = "never"
    shutdown_timeout: float | None = None  # None: let running jobs take as long as they need
    install_signal_handlers: bool = True


def worker_pool_size(concurrency: int) -> int:
    # One connection per running job's fetch/finish, one for LISTEN, one for heartbeats and
    # the periodic deferrer.
    return concurrency + 2


def worker_kwargs(options: WorkerOptions, job_log: JobLog) -> ProcrastinateWorkerOptions:
    kwargs: ProcrastinateWorkerOptions = {
        "concurrency": options.concurrency,
        "name": options.name or DEFAULT_NAME,
        "wait": not options.one_shot,
        "delete_jobs": options.delete_jobs,
        # Signals are handled here (see GracefulStop), so that a second one can stop at once.
        "install_signal_handlers": False,
        "worker_middleware": [job_log],
    }
    # Procrastinate reads "no queues" and "no timeout" from absent keys.
    if options.queues:
        kwargs["queues"] = list(options.queues)  # psycopg sends a list as an array, a tuple not
    if options.shutdown_timeout is not None:
        kwargs["shutdown_graceful_timeout"] = options.shutdown_timeout
    return kwargs


def describe_queues(queues: tuple[str, ...]) -> str:
    return f"queues {', '.join(queues)}" if queues else "all queues"


async def run_worker(options: WorkerOptions) -> None:
    """Run a worker until it is stopped (or, with one_shot, until no job is ready)."""
    job_log = JobLog()
    pool_size = worker_pool_size(options.concurrency)
    name = options.name or DEFAULT_NAME
    app = manager.app
    with app.replace_connector(psycopg_connector(pool_size)), unknown_tasks_logged_once(name):
        async with app.open_async():
            logger.info(
                "worker %r started on %s, concurrency %d, %d database connections",
                name,
                describe_queues(options.queues),
                options.concurrency,
                pool_size,
            )
            work = asyncio.create_task(app.run_worker_async(**worker_kwargs(options, job_log)))
            if options.install_signal_handlers:
                await GracefulStop(work, options.shutdown_timeout, job_log).wait()
            else:
                await work
            logger.info("worker %r stopped", name)


class GracefulStop:
    """The first SIGTERM or SIGINT stops taking jobs and lets the running ones finish, up to the
    shutdown timeout; a second signal, or running jobs that outlive the timeout, stop at once."""

    def __init__(self, work: asyncio.Task[None], timeout: float | None, job_log: JobLog) -> None:
        self.work = work
        self.timeout = timeout
        self.job_log = job_log
        self.received: signal.Signals | None = None
        self.deadline: asyncio.TimerHandle | None = None

    async def wait(self) -> None:
        with self._handlers_installed():
            try:
                await self.work
            except asyncio.CancelledError:
                # Procrastinate's worker takes the cancellation this class sends as "stop
                # gracefully" and re-raises it once done; any other cancellation goes on up.
                current = asyncio.current_task()
                if self.received is None or (current is not None and current.cancelling()):
                    raise

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
        self.work.cancel()
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
