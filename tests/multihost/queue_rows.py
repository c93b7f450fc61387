"""What the tests read in the queue's database: jobs, events, run records, rescues and the
`multihost_runs` rows the task writes; all from a psycopg connection of the test process."""

from collections import Counter

import psycopg

from taiga.tasksqueue.ops.stalled import STALLED_JOBS, heartbeat_cutoff

CREATE_RUNS_TABLE = """
CREATE TABLE multihost_runs (
    job_id bigint NOT NULL,
    worker text NOT NULL,
    ran_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""


def create_runs_table(connection: psycopg.Connection) -> None:
    connection.execute(CREATE_RUNS_TABLE)


def statuses(connection: psycopg.Connection, task_name: str) -> Counter[str]:
    """How many jobs of the task are in each status."""
    rows = connection.execute(
        "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = %s"
        " GROUP BY status",
        [task_name],
    ).fetchall()
    return Counter(dict(rows))


def status_of(connection: psycopg.Connection, job_ids: list[int]) -> dict[int, str]:
    rows = connection.execute(
        "SELECT id, status::text FROM procrastinate_jobs WHERE id = ANY(%s)", [job_ids]
    ).fetchall()
    return dict(rows)


def retried(connection: psycopg.Connection, task_name: str) -> int:
    """How many jobs of the task took more than one attempt."""
    (count,) = connection.execute(
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND attempts > 1",
        [task_name],
    ).fetchone() or (0,)
    return int(count)


def succeeded_events(connection: psycopg.Connection) -> Counter[int]:
    """How many `succeeded` events each job has."""
    rows = connection.execute(
        "SELECT job_id, count(*) FROM procrastinate_events WHERE type = 'succeeded' GROUP BY job_id"
    ).fetchall()
    return Counter(dict(rows))


def runs(connection: psycopg.Connection) -> dict[int, list[str]]:
    """The workers that ran each job, in the order of their runs."""
    rows = connection.execute(
        "SELECT job_id, worker FROM multihost_runs ORDER BY ran_at, job_id"
    ).fetchall()
    ran: dict[int, list[str]] = {}
    for job_id, worker in rows:
        ran.setdefault(job_id, []).append(worker)
    return ran


def run_seconds(connection: psycopg.Connection) -> float:
    """From the first job's deferral to the last run's end."""
    (seconds,) = connection.execute(
        "SELECT extract(epoch FROM (SELECT max(ran_at) FROM multihost_runs)"
        " - (SELECT min(at) FROM procrastinate_events WHERE type = 'deferred'))::float"
    ).fetchone() or (0.0,)
    return float(seconds)


def jobs_in_doing_of(connection: psycopg.Connection, worker_name: str) -> set[int]:
    """The jobs in `doing` held by the worker of that name (the app's registry of workers)."""
    rows = connection.execute(
        "SELECT job.id FROM procrastinate_jobs job"
        " JOIN tasksqueue_workerprocess process ON process.worker_id = job.worker_id"
        " WHERE job.status = 'doing' AND process.name = %s",
        [worker_name],
    ).fetchall()
    return {job_id for (job_id,) in rows}


def heartbeat_age(connection: psycopg.Connection, worker_name: str) -> float:
    """Seconds since the last heartbeat of a worker of that name (a restarted worker registers
    again, under a new id)."""
    (age,) = connection.execute(
        "SELECT extract(epoch FROM now() - max(worker.last_heartbeat))::float"
        " FROM procrastinate_workers worker"
        " JOIN tasksqueue_workerprocess process ON process.worker_id = worker.id"
        " WHERE process.name = %s",
        [worker_name],
    ).fetchone() or (0.0,)
    return float(age)


def stalled(connection: psycopg.Connection, stalled_after: float) -> set[int]:
    """The jobs the app's rescue would put back now (its own definition of stalled)."""
    rows = connection.execute(STALLED_JOBS, {"since": heartbeat_cutoff(stalled_after)}).fetchall()
    return {job_id for job_id, _ in rows}


def rescues(connection: psycopg.Connection) -> dict[int, int]:
    return dict(connection.execute("SELECT job_id, rescues FROM tasksqueue_jobrescue").fetchall())


def first_run_after(connection: psycopg.Connection, moment: float) -> float:
    """Seconds from `moment` (a Unix time) to the first run that started after it."""
    (seconds,) = connection.execute(
        "SELECT extract(epoch FROM min(ran_at))::float - %s FROM multihost_runs"
        " WHERE ran_at > to_timestamp(%s)",
        [moment, moment],
    ).fetchone() or (0.0,)
    return float(seconds)
