"""The dashboard's actions on many jobs at once: each one statement over the jobs an id query
selects, acting only on those in the state it applies to (the others are left as they are).

`ids` is SQL that selects job ids, with its parameters (a filtered list in the dashboard).
Procrastinate's triggers record each change as an event, as for its own functions.
"""

from dataclasses import dataclass
from typing import Any

from django.db import connections

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.defer.queries import notified_cte

IdsQuery = tuple[str, tuple[Any, ...]]

# The workers of the changed jobs' queues are told, as for new jobs.
_NOTIFY = f""",
{notified_cte("changed")}
SELECT changed.id FROM changed, (SELECT count(*) FROM notified) AS sent
"""


@dataclass(frozen=True)
class BulkAction:
    label: str
    applies_to: str  # the jobs it acts on, said for the pages
    condition: str  # SQL: which of the selected jobs it acts on
    change: str  # the UPDATE's SET, or "DELETE"
    notify: bool = False

    def matching(self, ids: IdsQuery) -> int:
        """How many of the selected jobs it would act on now."""
        query, params = ids
        statement = (
            f"SELECT count(*) FROM procrastinate_jobs WHERE {self.condition} AND id IN ({query})"
        )
        with self._cursor() as cursor:
            cursor.execute(statement, params)
            return int(cursor.fetchone()[0])

    def run(self, ids: IdsQuery) -> list[int]:
        """Act on the selected jobs it applies to; the ids of those it changed."""
        query, params = ids
        where = f"WHERE {self.condition} AND id IN ({query})"
        if self.change == "DELETE":
            statement = f"DELETE FROM procrastinate_jobs {where} RETURNING id"
        elif self.notify:
            statement = (
                f"WITH changed AS (UPDATE procrastinate_jobs SET {self.change} {where} "
                f"RETURNING id, queue_name){_NOTIFY}"
            )
        else:
            statement = f"UPDATE procrastinate_jobs SET {self.change} {where} RETURNING id"
        with self._cursor() as cursor:
            cursor.execute(statement, params)
            return sorted(job_id for (job_id,) in cursor.fetchall())

    def _cursor(self) -> Any:
        return connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor()


# Procrastinate's retry of a failed job: back to todo, due now, with one attempt more.
RETRY = BulkAction(
    "Retry",
    "failed jobs",
    "status = 'failed'",
    "status = 'todo', attempts = attempts + 1, scheduled_at = now()",
    notify=True,
)
CANCEL = BulkAction("Cancel", "jobs waiting (todo)", "status = 'todo'", "status = 'cancelled'")
# The worker running it sees the request (it polls for them) and aborts the task.
ABORT = BulkAction(
    "Abort",
    "running jobs (doing)",
    "status = 'doing' AND NOT abort_requested",
    "abort_requested = true",
)
RUN_NOW = BulkAction(
    "Run now",
    "jobs scheduled for later",
    "status = 'todo' AND scheduled_at > now()",
    "scheduled_at = now()",
    notify=True,
)
DELETE = BulkAction(
    "Delete",
    "finished jobs (succeeded, failed, cancelled, aborted)",
    "status IN ('succeeded', 'failed', 'cancelled', 'aborted')",
    "DELETE",
)
