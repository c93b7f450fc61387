"""The SQL the worker's job manager sends (`statements.py`): the set-wise fetch, the group
finish and the retry, each writing its runs' records, and the worker's registration details."""

import functools
from typing import LiteralString

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


@functools.cache
def fetch_statement(count: int, waited: bool = False) -> LiteralString:
    return FETCH_JOBS.format(count=int(count), waited=WAITED if waited else "")
