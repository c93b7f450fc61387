"""The worker's job manager: jobs fetched, and finished, several per statement.

Procrastinate's worker asks for one job each time a slot frees up, and records each outcome on its
own, one round trip each. This job manager:

- answers the first ask with one statement that runs Procrastinate's own fetch function once per
  free slot, and hands the other jobs out on the following asks, which come at once since their
  slots are free. The fetch function keeps its semantics: priority then id, `scheduled_at`, one
  running job per lock, the worker's id on each job;
- sends the outcomes that arrive while one statement is on its way together in the next one
  (group commit): alone, an outcome goes at once, so nothing waits for a batch to fill.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

from procrastinate import connector as connector_module
from procrastinate.jobs import Job, Status
from procrastinate.manager import JobManager

# Each call is a separate fetch in the same transaction, so a later call sees the jobs (and the
# locks) the earlier ones took. The worker id refers to `slot` (adding nothing) so that the function
# is called once per slot: without a reference to the outer row, its one result would be reused.
_FETCH_JOBS = """
SELECT job.id, job.status, job.task_name, job.priority, job.lock, job.queueing_lock, job.args,
       job.scheduled_at, job.queue_name, job.attempts, job.worker_id
  FROM generate_series(1, %(count)s) AS slot,
       LATERAL procrastinate_fetch_job_v2(
           %(queues)s::varchar[], %(worker_id)s::bigint + 0 * slot
       ) AS job
 WHERE job.id IS NOT NULL
 ORDER BY slot
"""


# Procrastinate's finish function for each outcome, in one statement (one transaction).
_FINISH_JOBS = """
SELECT procrastinate_finish_job_v1(outcome.job_id, outcome.status, outcome.delete_job)
  FROM unnest(
           %(job_ids)s::bigint[],
           %(statuses)s::procrastinate_job_status[],
           %(delete_jobs)s::boolean[]
       ) AS outcome(job_id, status, delete_job)
"""

Outcome = tuple[int, Status, bool, "asyncio.Future[None]"]


class BatchingJobManager(JobManager):
    def __init__(
        self, connector: connector_module.BaseConnector, free_slots: Callable[[], int]
    ) -> None:
        super().__init__(connector)
        self.free_slots = free_slots
        self.fetched: deque[Job] = deque()
        self._outcomes: list[Outcome] = []
        self._sender: asyncio.Task[None] | None = None

    async def fetch_job(self, queues: Iterable[str] | None, worker_id: int) -> Job | None:
        if not self.fetched:
            rows = await self.connector.execute_query_all_async(
                _FETCH_JOBS,
                count=max(1, self.free_slots()),
                queues=list(queues) if queues is not None else None,
                worker_id=worker_id,
            )
            self.fetched.extend(Job.from_row(row) for row in rows)
        return self.fetched.popleft() if self.fetched else None

    def take_unstarted(self) -> list[Job]:
        """The jobs fetched (so in "doing") that the worker never asked for: it stopped first."""
        jobs = list(self.fetched)
        self.fetched.clear()
        return jobs

    async def finish_job_by_id_async(self, job_id: int, status: Status, delete_job: bool) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((job_id, status, delete_job, done))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_outcomes())
        await done

    async def _send_outcomes(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                await self._finish(batch)
            except Exception:
                # One job the statement could not end fails the whole statement: end them one
                # by one, so that each caller gets its own outcome (and none waits forever).
                for outcome in batch:
                    await self._finish_one(outcome)
            else:
                for *_, done in batch:
                    done.set_result(None)

    async def _finish(self, batch: list[Outcome]) -> None:
        await self.connector.execute_query_async(
            _FINISH_JOBS,
            job_ids=[job_id for job_id, *_ in batch],
            statuses=[status.value for _, status, _, _ in batch],
            delete_jobs=[delete_job for _, _, delete_job, _ in batch],
        )

    async def _finish_one(self, outcome: Outcome) -> None:
        job_id, status, delete_job, done = outcome
        try:
            await super().finish_job_by_id_async(job_id, status, delete_job)
        except Exception as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)
