"""psycopg parameters of the queue's own connections: the worker's pool and LISTEN connection
(`worker/queue_db/pool.py`) and the connections of async defers (`defer/loop_connections.py`)."""

from typing import Any

from django.db import connections
from procrastinate.contrib.django import connector_params

from taiga.tasksqueue.conf import tq_settings

PREPARE_THRESHOLD = 5  # psycopg's own default


def behind_transaction_pooler(alias: str) -> bool:
    """Whether the database's settings say it is reached through a pooler in transaction mode.

    Django's docs ask for DISABLE_SERVER_SIDE_CURSORS there (a cursor cannot outlive the
    transaction that holds its server connection); prepared statements cannot either, on
    PgBouncer before 1.21, so the same flag turns them off for the queue's own connections.
    """
    return bool(connections[alias].settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"))


def queue_connection_params(alias: str) -> dict[str, Any]:
    """Django's parameters for the database, with statements prepared unless its settings say.

    psycopg prepares a statement the fifth time a connection runs it: parsed and planned once,
    then only executed. Django turns that off unless OPTIONS ask for it, so that a pooler in
    transaction mode keeps working. The worker runs the same few statements thousands of times,
    and planning them every time cost up to a third of its drain rate (docs/performance.md). A
    `prepare_threshold` in the database's OPTIONS still wins, and a database behind a
    transaction-mode pooler (`behind_transaction_pooler`) gets none prepared.
    """
    params = connector_params(alias)
    if "prepare_threshold" not in connections[alias].settings_dict.get("OPTIONS", {}):
        pooled = behind_transaction_pooler(alias)
        params["prepare_threshold"] = None if pooled else PREPARE_THRESHOLD
    return params


def worker_connection_params(alias: str) -> tuple[str, dict[str, Any]]:
    """(conninfo, keyword arguments) of a worker's own connections.

    TASKSQUEUE_WORKER_DATABASE_URL, when set, is a direct or session-mode connection: libpq reads
    it whole (several hosts, `target_session_attrs`, TLS), and statements are prepared on it.
    Otherwise the worker connects as Django does to the queue's database.
    """
    url = tq_settings.TASKSQUEUE_WORKER_DATABASE_URL
    if url:
        return url, {"prepare_threshold": PREPARE_THRESHOLD}
    return "", queue_connection_params(alias)
