"""Fetching as many jobs as the worker has free slots, in one statement.

Procrastinate's worker asks for one job each time a slot frees up, one round trip each. This job
manager answers the first ask with one statement that runs Procrastinate's own fetch function once
per free slot, and hands the other jobs out on the following asks, which come at once since their
slots are free. The fetch function keeps its semantics: priority then id, `scheduled_at`, one
running job per lock, the worker's id on each job.
"""

from collections import deque
from collections.abc import Callable, Iterable

from procrastinate import connector as connector_module
from procrastinate.jobs import Job
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


class PrefetchingJobManager(JobManager):
    def __init__(
        self, connector: connector_module.BaseConnector, free_slots: Callable[[], int]
    ) -> None:
        super().__init__(connector)
        self.free_slots = free_slots
        self.fetched: deque[Job] = deque()

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
