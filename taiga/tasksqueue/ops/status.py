"""The health report of the tasks queue, built by one function for the command, admin and metrics.

Each check is OK or FAIL, with a one-line summary, and a failing check says how to fix it. A check
that needs what an earlier one found broken (the database, the schema) is SKIPPED rather than run
against a database that cannot answer. Every time in the report is relative to `now`, which is also
what the SQL compares against, so one report is self-consistent.
"""

import datetime
from dataclasses import asdict, dataclass
from typing import Any

from django.db import connections
from django.utils import timezone

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.ops import status_checks as checks
from taiga.tasksqueue.ops import status_workers
from taiga.tasksqueue.ops.status_checks import Check, State


@dataclass(frozen=True)
class StatusReport:
    checked_at: datetime.datetime
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(check.state is not State.FAIL for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.state is State.FAIL]

    def as_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "checked_at": self.checked_at.isoformat(),
            "checks": [asdict(check) for check in self.checks],
        }


def database_and_schema() -> tuple[Check, Check]:
    """The report's first two checks, which decide whether the others can run (and whether a web
    process is ready, `observability/views.py`)."""
    database = checks.database()
    schema = checks.schema() if database.state is State.OK else checks.skipped("schema", "database")
    return database, schema


def build_report(
    *, now: datetime.datetime | None = None, stalled_after: float | None = None
) -> StatusReport:
    """Check the database, schema, tasks, queues, workers, periodic tasks and orphan jobs.

    A worker is alive while its heartbeat is younger than `stalled_after` seconds (by default
    TASKSQUEUE_STALLED_AFTER_SECONDS, the age at which the rescue job takes it for dead).
    """
    now = now or timezone.now()
    if stalled_after is None:
        stalled_after = tq_settings.TASKSQUEUE_STALLED_AFTER_SECONDS
    database, schema = database_and_schema()
    if schema.state is State.OK:
        with connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor() as cursor:
            jobs = checks.job_counts(cursor)
            queues = checks.queues(cursor, now, jobs)
            workers = status_workers.workers(cursor, now, stalled_after, checks.ready_jobs(queues))
            orphans = checks.orphans(jobs)
    else:
        needed = "database" if database.state is not State.OK else "schema"
        queues, workers, orphans = (
            checks.skipped(name, needed) for name in ("queues", "workers", "orphans")
        )
    return StatusReport(
        checked_at=now,
        checks=(database, schema, checks.tasks(), queues, workers, checks.periodic(now), orphans),
    )
