"""The status report's workers check: who is alive, what they may open, what they came through,
and the jobs stalled by workers that stopped heartbeating."""

import datetime

from django.db.backends.utils import CursorWrapper

from taiga.tasksqueue.ops.stalled import STALLED_JOBS_IN_ORDER, heartbeat_cutoff
from taiga.tasksqueue.ops.status_checks import Check, State
from taiga.tasksqueue.text import plural
from taiga.tasksqueue.worker.queue_db.budget import describe_workers

# Live workers that said who they are (`LeanWorker` records it when it registers), oldest first.
_NAMED_ALIVE_WORKERS = """
SELECT process.name, process.concurrency, process.outages, process.last_outage_at,
       process.started_at
  FROM procrastinate_workers AS worker
  JOIN tasksqueue_workerprocess AS process ON process.worker_id = worker.id
 WHERE worker.last_heartbeat >= %(since)s
 ORDER BY worker.id
"""


def workers(
    cursor: CursorWrapper, now: datetime.datetime, stalled_after: float, ready: int
) -> Check:
    since = heartbeat_cutoff(stalled_after, now)
    # Workers silent for the stalled timeout stay registered until a starting worker prunes them.
    cursor.execute(
        "SELECT count(*) FILTER (WHERE last_heartbeat >= %(since)s), "
        "count(*) FILTER (WHERE last_heartbeat < %(since)s) FROM procrastinate_workers",
        {"since": since},
    )
    alive, stalled_workers = cursor.fetchone()
    cursor.execute(STALLED_JOBS_IN_ORDER, {"since": since})
    stalled = [job_id for job_id, _ in cursor.fetchall()]
    cursor.execute(_NAMED_ALIVE_WORKERS, {"since": since})
    rows = cursor.fetchall()
    named = [(name, concurrency) for name, concurrency, *_ in rows]
    back = [(name, outages, lost, started) for name, _, outages, lost, started in rows if outages]
    data = {
        "alive": alive,
        "stalled": stalled_workers,
        "stalled_after_seconds": stalled_after,
        "stalled_jobs": stalled,
        "named": [
            {"name": name, "concurrency": concurrency, "outages": outages, "last_outage_at": lost}
            for name, concurrency, outages, lost, _ in rows
        ],
    }
    summary = f"{alive} alive by heartbeat"
    if named:
        cursor.execute("SELECT current_setting('max_connections')::int")
        (max_connections,) = cursor.fetchone()
        summary += f" ({describe_workers(named, max_connections)})"
    if back:
        summary += "; " + "; ".join(_describe_outages(*worker) for worker in back)
    if stalled:
        ids = ", ".join(str(job_id) for job_id in stalled)
        summary += (
            f"; {plural(len(stalled), 'job')} stalled in doing (ids {ids}), "
            "their worker stopped heartbeating"
        )
        fix = "once that worker is gone, retry them in `manage.py tasksqueue shell` (retry ID)"
        return Check("workers", State.FAIL, summary, fix, data)
    if alive == 0 and ready:
        summary += f"; {plural(ready, 'job')} ready and no worker to run them"
        return Check(
            "workers", State.FAIL, summary, "start one: `manage.py tasksqueue worker`", data
        )
    return Check("workers", State.OK, summary + ", no stalled jobs", data=data)


def _describe_outages(
    name: str, outages: int, lost: datetime.datetime, back: datetime.datetime
) -> str:
    """How a live worker rode through losing the database: it is alive, so this is history."""
    down = (back - lost).total_seconds()
    return (
        f"{name} came back from {plural(outages, 'database outage')}, the last at "
        f"{lost:%Y-%m-%d %H:%M:%S %Z} for {down:.1f} s"
    )
