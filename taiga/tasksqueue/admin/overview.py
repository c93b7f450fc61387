"""The overview page: the report behind `tasksqueue status` (one source of truth), as a page."""

from typing import Any

from taiga.tasksqueue.admin.paging import STATUSES
from taiga.tasksqueue.ops.status import build_report
from taiga.tasksqueue.text import format_duration


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
        "periodic": (checks["periodic"].data or {}).get("periodic", []),
        "orphans": checks["orphans"],
    }
