"""The worker's job manager: the fetch and finish statements, several jobs per statement.

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
import functools
import os
import socket
from collections.abc import Iterable
from typing import LiteralString, Protocol, cast

from procrastinate import connector as connector_module
from procrastinate import testing
from procrastinate.jobs import Job, Status
from procrastinate.manager import JobManager
from procrastinate.retry import RetryDecision

from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
from taiga.tasksqueue.worker.jobs.attempts import AttemptRecord, records_document
from taiga.tasksqueue.worker.outages import Outages

# The limit is written in the statement, not passed: a prepared statement then gets a plan that
# PostgreSQL can keep (with a parameter it assumes a tenth of the table and plans a sort of it),
# instead of planning every fetch anew; one statement per count, at most the concurrency.
FETCH_JOBS = """
WITH candidate AS (
    SELECT jobs.id
      FROM procrastinate_jobs AS jobs
     WHERE jobs.status = 'todo'
       AND (%(queues)s::varchar[] IS NULL OR jobs.queue_name = ANY(%(queues)s::varchar[]))
       AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
       AND NOT EXISTS (
           SELECT 1
             FROM procrastinate_jobs AS other
            WHERE jobs.lock IS NOT NULL
              AND other.lock = jobs.lock
              AND (
                  other.status = 'doing'
                  OR (
                      other.status = 'todo'
                      AND (
                          other.priority > jobs.priority
                          OR (other.priority = jobs.priority AND other.id < jobs.id)
                      )
                  )
              )
       )
     ORDER BY jobs.priority DESC, jobs.id ASC
     LIMIT {count}
       FOR UPDATE OF jobs SKIP LOCKED
)
UPDATE procrastinate_jobs AS job
   SET status = 'doing', worker_id = %(worker_id)s
  FROM candidate
 WHERE job.id = candidate.id
RETURNING job.id, job.status, job.task_name, job.priority, job.lock, job.queueing_lock,
          job.args, job.scheduled_at, job.queue_name, job.attempts, job.worker_id{waited}
"""

# With the worker's metrics on: how long each job waited since it was due, by the server's clock.
# A retried or rescued job has its retry time as its schedule; a job deferred without one was due
# at its deferral, which only its "deferred" event records (an index lookup per job).
WAITED = """,
          extract(epoch FROM now() - coalesce(job.scheduled_at, (
              SELECT min(event.at)
                FROM procrastinate_events AS event
               WHERE event.job_id = job.id AND event.type = 'deferred'
          )))::float8 AS waited"""

# The runs' records (a JSON array of `AttemptRecord` arrays, fields by position), inserted for
# the jobs that `{ended}` returns: a deleted job keeps none.
_RECORD_ATTEMPTS = """
    INSERT INTO tasksqueue_jobattempt
           (job_id, attempt, worker_id, outcome, error_class, traceback, return_value)
    SELECT (run ->> 0)::bigint, (run ->> 1)::integer, (run ->> 2)::bigint, run ->> 3,
           run ->> 4, run ->> 5, NULLIF(run -> 6, 'null'::jsonb)
      FROM jsonb_array_elements(%(records)s::jsonb) AS runs(run)
     WHERE (run ->> 0)::bigint IN (SELECT id FROM {ended})
"""

# Procrastinate's finish function (`procrastinate_finish_job_v1`) made set-wise: each outcome's
# row updated (or deleted) if it is "todo" or "doing", in one transaction. The function itself is
# called for the outcomes whose row was not, to raise its own error (the worker's connector
# recognises it when a statement it sent again after a lost connection had in fact gone through),
# which rolls the whole statement back, records included.
FINISH_JOBS = """
WITH outcome AS (
    SELECT *
      FROM unnest(
               %(job_ids)s::bigint[],
               %(statuses)s::procrastinate_job_status[],
               %(delete_jobs)s::boolean[]
           ) AS outcome(job_id, status, delete_job)
),
ended AS (
    UPDATE procrastinate_jobs AS job
       SET status = outcome.status,
           abort_requested = false,
           attempts = CASE job.status WHEN 'doing' THEN job.attempts + 1 ELSE job.attempts END
      FROM outcome
     WHERE job.id = outcome.job_id
       AND NOT outcome.delete_job
       AND job.status IN ('todo', 'doing')
 RETURNING job.id
),
deleted AS (
    DELETE FROM procrastinate_jobs AS job
     USING outcome
     WHERE job.id = outcome.job_id
       AND outcome.delete_job
       AND job.status IN ('todo', 'doing')
 RETURNING job.id
),
recorded AS ({record}
)
SELECT procrastinate_finish_job_v1(outcome.job_id, outcome.status, outcome.delete_job)
  FROM outcome
 WHERE outcome.job_id NOT IN (SELECT id FROM ended UNION ALL SELECT id FROM deleted)
""".format(record=_RECORD_ATTEMPTS.format(ended="ended"))

# Procrastinate's retry statement, with the run's record (a retry follows a failed run).
RETRY_JOB = """
WITH retried AS (
    SELECT %(job_id)s::bigint AS id
),
recorded AS ({record}
)
SELECT procrastinate_retry_job_v2(
           %(job_id)s, %(retry_at)s, %(new_priority)s, %(new_queue_name)s, %(new_lock)s
       )
""".format(record=_RECORD_ATTEMPTS.format(ended="retried"))

# Who a registered worker is (the dashboard's workers, `models.WorkerProcess`).
RECORD_WORKER = """
INSERT INTO tasksqueue_workerprocess
       (worker_id, name, host, pid, concurrency, queues, outages, last_outage_at)
VALUES (%(worker_id)s, %(name)s, %(host)s, %(pid)s, %(concurrency)s, %(queues)s,
        %(outages)s, %(last_outage_at)s)
ON CONFLICT (worker_id) DO NOTHING
"""

Outcome = tuple[int, Status, bool, AttemptRecord | None, "asyncio.Future[None]"]


class AttemptSink(Protocol):
    """A connector that keeps the runs' records itself (the test toolkit's in-memory queue)."""

    def add_attempt(self, record: AttemptRecord) -> None: ...


@functools.cache
def fetch_statement(count: int, waited: bool = False) -> LiteralString:
    return FETCH_JOBS.format(count=int(count), waited=WAITED if waited else "")


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
