"""The worker's job manager: the fetch and finish statements (their SQL: `queries.py`), several
jobs per statement.

Procrastinate fetches one job per statement and records each outcome on its own, one round trip
each. This job manager:

- fetches as many jobs as the worker has free slots in one statement. It is Procrastinate's fetch
  (`procrastinate_fetch_job_v2`) made set-wise, with the same conditions: priority then id,
  `scheduled_at`, one running job per lock (a job whose lock has a job running, or an earlier or
  higher-priority job waiting, is skipped), rows locked by other workers skipped, this worker's id
  on each job. One snapshot serves the whole batch, so of the jobs sharing a lock at most one is
  taken, as a loop of single fetches would;
- sends the outcomes that arrive while one statement is on its way together in the next one
  (group commit): alone, an outcome goes at once, so nothing waits for a batch to fill;
- writes the runs' records (`attempts.py`: a failure's error, a Django task's
  result) in the statement that records their outcome, a retry's included.

On a connector that runs no SQL of ours (the test toolkit's in-memory queue), jobs are fetched,
finished and retried one at a time by Procrastinate's own calls, with the same results, and the
records go to the connector when it keeps them (`AttemptSink`).
"""

import asyncio
import datetime
import os
import socket
from collections.abc import Iterable
from typing import Protocol, cast

from procrastinate import connector as connector_module
from procrastinate import testing
from procrastinate.jobs import Job, Status
from procrastinate.manager import JobManager
from procrastinate.retry import RetryDecision

from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
from taiga.tasksqueue.worker.jobs.attempts import AttemptRecord, records_document
from taiga.tasksqueue.worker.jobs.queries import (
    FINISH_JOBS,
    RECORD_WORKER,
    RETRY_JOB,
    fetch_statement,
)
from taiga.tasksqueue.worker.outages import Outages

Outcome = tuple[int, Status, bool, AttemptRecord | None, "asyncio.Future[None]"]


class AttemptSink(Protocol):
    """A connector that keeps the runs' records itself (the test toolkit's in-memory queue)."""

    def add_attempt(self, record: AttemptRecord) -> None: ...


def _fetch_order(job: Job) -> tuple[int, int]:
    assert job.id is not None
    return (-job.priority, job.id)


class BatchingJobManager(JobManager):
    def __init__(
        self, connector: connector_module.BaseConnector, metrics: WorkerMetrics | None = None
    ) -> None:
        super().__init__(connector)
        self.metrics = metrics
        # Only a PostgreSQL connector runs the set-wise statements.
        self._set_wise = not isinstance(connector, testing.InMemoryConnector)
        self._outcomes: list[Outcome] = []
        self._sender: asyncio.Task[None] | None = None

    async def fetch_jobs(
        self, queues: Iterable[str] | None, worker_id: int, count: int
    ) -> list[Job]:
        """Up to `count` ready jobs, now "doing" for `worker_id`, in the order they were due."""
        if not self._set_wise:
            return await self._fetch_one_by_one(queues, worker_id, count)
        rows = await self.connector.execute_query_all_async(
            fetch_statement(count, self.metrics is not None),
            queues=list(queues) if queues is not None else None,
            worker_id=worker_id,
        )
        if self.metrics is not None:
            self.metrics.waited(rows)
        return sorted((Job.from_row(row) for row in rows), key=_fetch_order)

    async def _fetch_one_by_one(
        self, queues: Iterable[str] | None, worker_id: int, count: int
    ) -> list[Job]:
        jobs: list[Job] = []
        while len(jobs) < count and (job := await self.fetch_job(queues, worker_id)) is not None:
            jobs.append(job)
        return jobs

    def finish_soon(
        self, job_id: int, status: Status, delete_job: bool, record: AttemptRecord | None = None
    ) -> "asyncio.Future[None]":
        """Queue the job's outcome (and its run's record) for the next statement; the future
        says when it is recorded.

        The statement is sent by a task of its own, so a caller cancelled meanwhile loses nothing.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((job_id, status, delete_job, record, done))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_outcomes())
        return done

    async def record_worker(
        self,
        worker_id: int,
        name: str,
        concurrency: int,
        queues: Iterable[str] | None,
        outages: Outages,
    ) -> None:
        """Note who the worker registered as `worker_id` is: its name, host, pid and slots, and
        the outages its process came back from."""
        if not self._set_wise:
            return  # the in-memory queue has no table for it
        await self.connector.execute_query_async(
            RECORD_WORKER,
            worker_id=worker_id,
            name=name,
            host=socket.gethostname(),
            pid=os.getpid(),
            concurrency=concurrency,
            queues=",".join(queues or ()),
            outages=outages.count,
            last_outage_at=outages.last_lost_at,
        )

    async def retry(self, job: Job, decision: RetryDecision, record: AttemptRecord) -> None:
        """Put the job back in the queue as `decision` says, and record the run that failed."""
        assert job.id is not None
        retry_at = decision.retry_at or datetime.datetime.now(datetime.UTC)
        if not self._set_wise:
            await self.retry_job(
                job,
                retry_at=retry_at,
                priority=decision.priority,
                queue=decision.queue,
                lock=decision.lock,
            )
            self._keep(record)
            return
        await self.connector.execute_query_async(
            RETRY_JOB,
            job_id=job.id,
            retry_at=retry_at,
            new_priority=decision.priority,
            new_queue_name=decision.queue,
            new_lock=decision.lock,
            records=records_document([record]),
        )

    async def _send_outcomes(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            if self._set_wise and await self._finished_together(batch):
                continue
            # One job the statement could not end fails the whole statement: end them one by
            # one, so that each caller gets its own outcome (and none waits forever).
            for outcome in batch:
                await self._finish_one(outcome)

    async def _finished_together(self, batch: list[Outcome]) -> bool:
        try:
            await self._finish(batch)
        except Exception:
            return False
        for *_, done in batch:
            done.set_result(None)
        return True

    async def _finish(self, batch: list[Outcome]) -> None:
        await self.connector.execute_query_async(
            FINISH_JOBS,
            job_ids=[job_id for job_id, *_ in batch],
            statuses=[status.value for _, status, *_ in batch],
            delete_jobs=[delete_job for _, _, delete_job, *_ in batch],
            records=records_document([record for *_, record, _ in batch if record is not None]),
        )

    async def _finish_one(self, outcome: Outcome) -> None:
        job_id, status, delete_job, record, done = outcome
        try:
            if self._set_wise:
                await self._finish([outcome])
            else:
                await super().finish_job_by_id_async(job_id, status, delete_job)
                if not delete_job:
                    self._keep(record)
        except Exception as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    def _keep(self, record: AttemptRecord | None) -> None:
        if record is not None and hasattr(self.connector, "add_attempt"):
            cast(AttemptSink, self.connector).add_attempt(record)
