"""psycopg parameters of the queue's own connections: the worker's pool (`worker/queue_db/pool.py`)
and the connections of async defers (`defer/loop_connections.py`), taken from Django's settings."""

from typing import Any

from django.db import connections
from procrastinate.contrib.django import connector_params

PREPARE_THRESHOLD = 5  # psycopg's own default


def queue_connection_params(alias: str) -> dict[str, Any]:
    """Django's parameters for the database, with statements prepared unless its OPTIONS say.

    psycopg prepares a statement the fifth time a connection runs it: parsed and planned once,
    then only executed. Django turns that off unless OPTIONS ask for it, so that a pooler in
    transaction mode keeps working. The worker runs the same few statements thousands of times,
    and planning them every time cost up to a third of its drain rate (docs/performance.md). A
    `prepare_threshold` in the database's OPTIONS still wins: None there (a pooler that cannot
    keep prepared statements) turns preparing off for the worker too.
    """
    params = connector_params(alias)
    if "prepare_threshold" not in connections[alias].settings_dict.get("OPTIONS", {}):
        params["prepare_threshold"] = PREPARE_THRESHOLD
    return params
