"""Tasks for the tests of a worker's Django connections (`worker/task_runtime/connections.py`).

`record` notes which PostgreSQL backend ran it (pid and start time: one server process, so one
connection) and whether it found itself inside a transaction, in the table BACKENDS. `leave` records
too, then leaves its connection in the state `how` names.
"""

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import connection, transaction

from taiga.tasksqueue.manager import manager as tqmanager

BACKENDS = "test_job_backends"
CREATE_BACKENDS = (
    f"CREATE TABLE IF NOT EXISTS {BACKENDS} "
    "(label text PRIMARY KEY, pid int, backend_start timestamptz, in_transaction bool)"
)
SELF = (
    "SELECT pg_backend_pid(), backend_start, pg_current_xact_id_if_assigned() IS NOT NULL "
    "FROM pg_stat_activity WHERE pid = pg_backend_pid()"
)
# How a task can leave its connection: a transaction opened three ways, or the connection killed.
WAYS = ("raw BEGIN", "atomic block not exited", "autocommit off", "connection terminated")


def _record(label: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(SELF)
        pid, started, in_transaction = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO {BACKENDS} VALUES (%s, %s, %s, %s)", [label, pid, started, in_transaction]
        )


def _leave(how: str) -> None:
    _record(how)
    if how == "raw BEGIN":
        connection.cursor().execute("BEGIN")
    elif how == "atomic block not exited":
        transaction.atomic().__enter__()
    elif how == "autocommit off":
        transaction.set_autocommit(False)
    elif how == "connection terminated":
        connection.cursor().execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return
    connection.cursor().execute("SELECT pg_current_xact_id()")  # the transaction really began


@tqmanager.task
def record(label: str) -> None:
    _record(label)


@tqmanager.task
def leave(how: str) -> None:
    _leave(how)


@tqmanager.task
async def arecord(label: str) -> None:
    await sync_to_async(_record)(label)


@tqmanager.task
async def aleave(how: str) -> None:
    await sync_to_async(_leave)(how)


@tqmanager.task
async def count_users() -> int:
    return await User.objects.acount()


@tqmanager.task
async def no_database() -> None:
    pass
