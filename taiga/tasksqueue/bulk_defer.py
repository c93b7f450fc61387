"""Deferring on the database: one INSERT of the jobs' JSON documents as they were encoded.

Procrastinate's defer builds a job object per item, copies and logs it, and adapts a composite
value per job, which cost more than the database's work for the same jobs. `defer` inserts one
document, `defer_many` many. All jobs of one call share their options (queue, priority, locks,
schedule: Procrastinate's job template, so they mean what they mean to Procrastinate); what
differs is the arguments, sent as one array of JSON text. The statement inserts the rows
Procrastinate's defer function would, through the same Django connection (and so inside the
caller's transaction), and its triggers do the rest (notification, events).
"""

from typing import Any, LiteralString

from procrastinate import exceptions
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.jobs import Job
from procrastinate.manager import QUEUEING_LOCK_CONSTRAINT

_INSERT_JOBS = """
INSERT INTO procrastinate_jobs
       (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
SELECT %(queue)s::varchar, %(task_name)s::varchar, %(priority)s::integer, %(lock)s::varchar,
       %(queueing_lock)s::varchar, job.args::jsonb, %(scheduled_at)s::timestamptz
  FROM unnest(%(args)s::text[]) WITH ORDINALITY AS job(args, position)
 ORDER BY job.position
RETURNING id
"""

# One job: the same row from a statement PostgreSQL plans in a fraction of the time (a single
# defer is planned on every call: Django's connection prepares nothing).
_INSERT_JOB = """
INSERT INTO procrastinate_jobs
       (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
VALUES (%(queue)s, %(task_name)s, %(priority)s, %(lock)s, %(queueing_lock)s, %(args)s::jsonb,
        %(scheduled_at)s)
RETURNING id
"""


def _statement(template: Job, documents: list[str]) -> tuple[LiteralString, dict[str, Any]]:
    arguments = {
        "queue": template.queue,
        "task_name": template.task_name,
        "priority": template.priority,
        "lock": template.lock,
        "queueing_lock": template.queueing_lock,
        "scheduled_at": template.scheduled_at,
    }
    if len(documents) == 1:
        return _INSERT_JOB, {**arguments, "args": documents[0]}
    return _INSERT_JOBS, {**arguments, "args": documents}


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    # Ids come from a sequence, in the order the rows were inserted: the order of `documents`.
    return sorted(row["id"] for row in rows)


def _already_enqueued(exc: exceptions.UniqueViolation, template: Job) -> Exception:
    """Procrastinate's error for a queueing lock already taken, as its own defer raises it."""
    if exc.constraint_name != QUEUEING_LOCK_CONSTRAINT:
        return exc
    return exceptions.AlreadyEnqueued(
        "Job cannot be enqueued: there is already a job in the queue with the queueing lock "
        f"{template.queueing_lock}"
    )


def insert_jobs(connector: DjangoConnector, template: Job, documents: list[str]) -> list[int]:
    try:
        query, arguments = _statement(template, documents)
        rows = connector.execute_query_all(query, **arguments)
    except exceptions.UniqueViolation as exc:
        raise _already_enqueued(exc, template) from exc
    return _ids(rows)


async def insert_jobs_async(
    connector: DjangoConnector, template: Job, documents: list[str]
) -> list[int]:
    try:
        query, arguments = _statement(template, documents)
        rows = await connector.execute_query_all_async(query, **arguments)
    except exceptions.UniqueViolation as exc:
        raise _already_enqueued(exc, template) from exc
    return _ids(rows)
