"""How many connections a worker opens at a concurrency: its start line, `tasksqueue status` and
docs/connections.md give these figures, from here."""

from dataclasses import dataclass

from taiga.tasksqueue.defer.loop_connections import MAX_CONNECTIONS as LOOP_CONNECTIONS
from taiga.tasksqueue.worker.queue_db.pool import POOL_SIZE


@dataclass(frozen=True)
class ConnectionBudget:
    concurrency: int
    listen: bool = True

    @property
    def queue(self) -> int:
        """Its pool, and the connection that LISTENs (on TASKSQUEUE_WORKER_DATABASE_URL)."""
        return POOL_SIZE + int(self.listen)

    @property
    def tasks(self) -> int:
        """Django's, at most: one per job thread (a thread per slot) and the async ORM's thread."""
        return self.concurrency + 1

    @property
    def most(self) -> int:
        """Everything, with the event loop's own connections of async tasks that defer jobs."""
        return self.queue + self.tasks + LOOP_CONNECTIONS

    def describe(self) -> str:
        return (
            f"{self.queue} database connections for the queue and up to {self.tasks} for its tasks"
        )
