"""Whether the worker's LISTEN connection hears notifications, asked once when it starts.

Through a pooler in transaction mode, LISTEN succeeds and then hears nothing: the server session
that ran it goes back to the pooler's pool when the statement ends. The worker would still find
jobs, only at its polling interval. A notification the worker sends itself, from its pool to a
connection opened as its listener's is, tells it apart at the cost of one connection and two
statements, where no setting can: a pooler's port or name says nothing of its mode.
"""

import asyncio
import secrets

import psycopg
import psycopg_pool
from psycopg import sql

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.connection_params import worker_connection_params

# Far longer than a notification takes on any network, and short enough for a worker's start.
PROBE_TIMEOUT_SECONDS = 2.0
# The whole probe, connection included: a host that answers nothing must not hold the start.
PROBE_BUDGET_SECONDS = 10.0


async def listen_is_heard(pool: psycopg_pool.AsyncConnectionPool) -> bool | None:
    """Whether a connection opened as the worker's listener is hears a NOTIFY sent by `pool`;
    None when the database could not be asked: an outage, which the supervisor handles."""
    try:
        async with asyncio.timeout(PROBE_BUDGET_SECONDS):
            return await _probe(pool)
    except (TimeoutError, psycopg.OperationalError, psycopg_pool.PoolTimeout):
        return None


async def _probe(pool: psycopg_pool.AsyncConnectionPool) -> bool:
    channel = f"tasksqueue_probe_{secrets.token_hex(8)}"
    conninfo, params = worker_connection_params(tq_settings.PROCRASTINATE_DATABASE_ALIAS)
    async with await psycopg.AsyncConnection.connect(
        conninfo, **{**params, "autocommit": True}
    ) as listener:
        await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        async with pool.connection() as sender:
            await sender.execute("SELECT pg_notify(%s, '')", (channel,))
        notifications = listener.notifies(timeout=PROBE_TIMEOUT_SECONDS, stop_after=1)
        heard = [notification async for notification in notifications]
    return any(notification.channel == channel for notification in heard)
