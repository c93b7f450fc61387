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


def describe_workers(workers: list[tuple[str, int]], max_connections: int) -> str:
    """What the workers (name, concurrency) open at most, with the sum `tasksqueue status` gives
    against the server's max_connections. Counted as listening: a polling worker opens one less.
    """
    if not workers:
        return ""
    named = ", ".join(f"{name} at concurrency {concurrency}" for name, concurrency in workers)
    total = sum(ConnectionBudget(concurrency).most for _, concurrency in workers)
    return (
        f"{named}: up to {total} database connections of max_connections {max_connections}, "
        f"{ConnectionBudget(0).queue} for the queue, concurrency + 1 for the tasks and "
        f"{LOOP_CONNECTIONS} for async defers per worker"
    )
