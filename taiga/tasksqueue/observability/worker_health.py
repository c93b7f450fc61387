"""Whether a worker is ready: its worker runs, its listener listens and its pool answers.

Each check is what the worker needs to take jobs: a registered worker (not in the supervisor's
backoff after an outage, not stopping), the connection that LISTENs for new jobs (when the worker
listens; a polling worker has none), and a statement through its pool. The pool is asked at each
probe, bounded in time: a dead server, or a network cut that no socket has noticed yet, answers
nothing.
"""

import asyncio

import psycopg
from procrastinate import exceptions

from taiga.tasksqueue.worker.queue_db.reconnect import ReconnectingConnector
from taiga.tasksqueue.worker.supervisor import Supervisor

# A probe's statement takes milliseconds; a pool that cannot answer in this long is not ready.
POOL_PROBE_SECONDS = 2.0


class WorkerReadiness:
    def __init__(self, connector: ReconnectingConnector, supervisor: Supervisor) -> None:
        self.connector = connector
        self.supervisor = supervisor

    async def checks(self) -> dict[str, bool]:
        worker = self.supervisor.worker
        running = worker is not None and worker.running and not self.supervisor.stopping
        listening = worker is not None and (self.connector.listening or not worker.listen_notify)
        return {
            "worker": running,
            "listener": running and listening,
            "pool": await self._pool_answers(),
        }

    async def _pool_answers(self) -> bool:
        try:
            async with asyncio.timeout(POOL_PROBE_SECONDS):
                async with self.connector.pool.connection() as connection:
                    await connection.execute("SELECT 1")
        except (TimeoutError, psycopg.Error, exceptions.AppNotOpen):
            return False
        return True
