"""Stopping a worker on SIGTERM or SIGINT: gracefully the first time, at once the second."""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator

from taiga.tasksqueue.worker import LOGGER_NAME
from taiga.tasksqueue.worker.jobs.job_log import JobLog
from taiga.tasksqueue.worker.supervisor import Supervisor

logger = logging.getLogger(LOGGER_NAME)

# After the shutdown timeout Procrastinate cancels the async jobs still running and records them
# as aborted, which takes a moment; sync jobs cannot be cancelled and would keep it waiting.
ABORT_GRACE_SECONDS = 5.0


class GracefulStop:
    """The first SIGTERM or SIGINT stops taking jobs and lets the running ones finish, up to the
    shutdown timeout (jobs interrupted then go back to the queue: `outcome.py`); a second signal,
    or running jobs that outlive the timeout, stop at once."""

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
