"""The SQL of a defer (`insert.py`): one job, many jobs at once with their events and
notifications, a reserved id; and the notification CTE that the dashboard's actions share."""


def notified_cte(jobs: str) -> str:
    """A `notified` CTE telling the workers of each queue of the CTE `jobs` (id, queue_name) that
    it has jobs ready, once per queue, with Procrastinate's payload (its worker reads the type)."""
    return f"""notified AS (
    SELECT pg_notify('procrastinate_queue_v1#' || queue_name, payload),
           pg_notify('procrastinate_any_queue_v1', payload)
      FROM (
          SELECT queue_name,
                 json_build_object('type', 'job_inserted', 'job_id', max(id))::text AS payload
            FROM {jobs}
           GROUP BY queue_name
      ) AS per_queue
)"""


# Many jobs: their arguments as one JSON array, parsed once, rather than an array of documents,
# which cost the client an escaped literal per job and the server a parse per job. The statement
# does what Procrastinate's per-row INSERT triggers would do for each job, once for all (migration
# tasksqueue 0002 has those triggers skip the rows inserted while `tasksqueue.inserting_batch` is
# on): the jobs' `deferred` events in one INSERT, and one notification per queue on the queue's
# channel and on the channel of all queues (Procrastinate's worker reads only their type).
INSERT_JOBS = """
WITH batch AS (
    SELECT set_config('tasksqueue.inserting_batch', 'on', true)
),
inserted AS (
    INSERT INTO procrastinate_jobs
           (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
    SELECT %(queue)s::varchar, %(task_name)s::varchar, %(priority)s::integer, %(lock)s::varchar,
           %(queueing_lock)s::varchar, job.args, %(scheduled_at)s::timestamptz
      FROM batch,
           jsonb_array_elements(%(args)s::jsonb) WITH ORDINALITY AS job(args, position)
     ORDER BY job.position
    RETURNING id, queue_name
),
events AS (
    INSERT INTO procrastinate_events (job_id, type)
    SELECT id, 'deferred'::procrastinate_job_event_type FROM inserted ORDER BY id
),
{notified}
SELECT inserted.id FROM inserted, (SELECT count(*) FROM notified) AS sent
""".format(notified=notified_cte("inserted"))

# Inside the caller's transaction the setting would outlive the batch: the single defers that
# follow in that transaction need Procrastinate's triggers again.
END_OF_BATCH = "SELECT set_config('tasksqueue.inserting_batch', '', true)"

# One job: the same row from a statement PostgreSQL plans in a fraction of the time (a single
# defer is planned on every call: Django's connection prepares nothing). A job whose id was
# reserved before (`reserve_job_id`) is inserted with it.
INSERT_ONE = """
INSERT INTO procrastinate_jobs
       ({id_column}queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
VALUES ({id_value}%(queue)s, %(task_name)s, %(priority)s, %(lock)s, %(queueing_lock)s,
        %(args)s::jsonb, %(scheduled_at)s)
RETURNING id
"""
INSERT_JOB = INSERT_ONE.format(id_column="", id_value="")
INSERT_RESERVED_JOB = INSERT_ONE.format(id_column="id, ", id_value="%(job_id)s, ")

RESERVE_JOB_ID = "SELECT nextval(pg_get_serial_sequence('procrastinate_jobs', 'id'))"
