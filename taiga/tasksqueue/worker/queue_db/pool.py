"""The worker's own PostgreSQL pool, separate from Django's connections, built for speed; on
TASKSQUEUE_WORKER_DATABASE_URL when it is set (`connection_params.py`)."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import psycopg_pool

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.connection_params import worker_connection_params

# One connection fetching, one recording outcomes (both one statement at a time, whatever the
# concurrency), one for the rest: heartbeats, retries, abort polling, the periodic deferrer. LISTEN
# has a connection of its own, outside the pool. Few connections, each busy, measured faster than
# one per job: the pool hands its idle connections out in turn, so with more of them each
# statement lands on a server process that has been idle longer (benchmarks: 17 % at
# concurrency 10).
POOL_SIZE = 3

# How long a statement waits for a connection. Statements take milliseconds, so a wait this long
# means the server is unreachable: fail fast and let the supervisor take over, rather than
# psycopg's 30 s per statement.
POOL_WAIT_SECONDS = 5.0


async def _autocommit(connection: psycopg.AsyncConnection[Any]) -> None:
    await connection.set_autocommit(True)


@contextlib.asynccontextmanager
async def worker_pool(size: int) -> AsyncIterator[psycopg_pool.AsyncConnectionPool]:
    """Every statement the worker sends stands alone (a function call, an INSERT, one CTE), so
    autocommit connections lose nothing and save a BEGIN and a COMMIT round trip each.
    Connections are not checked on checkout (one more round trip per statement): a dead one fails
    its statement, which `ReconnectingConnector` sends again after the pool has dropped the dead
    connections.
    """
    # Procrastinate's LISTEN connection is opened with the pool's parameters too.
    conninfo, params = worker_connection_params(tq_settings.PROCRASTINATE_DATABASE_ALIAS)
    pool = psycopg_pool.AsyncConnectionPool(
        conninfo,
        kwargs=params,
        min_size=size,
        max_size=size,
        open=False,
        configure=_autocommit,
        timeout=POOL_WAIT_SECONDS,
        name="tasksqueue-worker",
    )
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()
