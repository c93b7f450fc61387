"""The overview page: the report behind `tasksqueue status` (one source of truth), as a page."""

from typing import Any

from django.db import connections

from taiga.tasksqueue.admin.paging import STATUSES
from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.ops.status import build_report
from taiga.tasksqueue.text import format_duration

# Every registered worker, newest first, with who it is (when it said) and the jobs it runs.
_WORKERS = """
SELECT worker.id, process.name, process.host, process.pid, process.concurrency, process.queues,
       process.started_at, worker.last_heartbeat,
       (SELECT count(*) FROM procrastinate_jobs AS job
         WHERE job.worker_id = worker.id AND job.status = 'doing') AS running
  FROM procrastinate_workers AS worker
  LEFT JOIN tasksqueue_workerprocess AS process ON process.worker_id = worker.id
 ORDER BY worker.id DESC
"""
_WORKER_FIELDS = (
    "id",
    "name",
    "host",
    "pid",
    "concurrency",
    "queues",
    "started_at",
    "last_heartbeat",
    "running",
)


def workers() -> list[dict[str, Any]]:
    with connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor() as cursor:
        cursor.execute(_WORKERS)
        return [dict(zip(_WORKER_FIELDS, row, strict=True)) for row in cursor.fetchall()]


def overview_context() -> dict[str, Any]:
    report = build_report()
    checks = {check.name: check for check in report.checks}
    queues = [
        {
            "name": queue["name"],
            "counts": [queue["jobs"].get(status, 0) for status in STATUSES],
            "ready": queue["ready"],
            "oldest_waiting": (
                format_duration(queue["oldest_waiting_seconds"])
                if queue["oldest_waiting_seconds"] is not None
                else None
            ),
        }
        for queue in (checks["queues"].data or {}).get("queues", [])
    ]
    return {
        "report": report,
        "checks": report.checks,
        "statuses": STATUSES,
        "queues": queues,
        "workers": checks["workers"],
        "worker_rows": workers() if checks["queues"].data else [],
        "periodic": (checks["periodic"].data or {}).get("periodic", []),
        "orphans": checks["orphans"],
    }
