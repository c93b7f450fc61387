"""Reaching the queue's database: one clear error when it cannot be reached."""

from dataclasses import dataclass

from django.db import DatabaseError, connections

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.exceptions import TasksQueueError
from taiga.tasksqueue.text import first_line


class DatabaseUnavailable(TasksQueueError):
    """The queue's database cannot be reached."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}; {fix}")
        self.cause = cause
        self.fix = fix


@dataclass(frozen=True)
class ServerInfo:
    alias: str
    database: str
    version: str  # "15.8"


def _version(server_version_num: int) -> str:
    # PostgreSQL 10+ numbers versions as major * 10000 + minor.
    return f"{server_version_num // 10000}.{server_version_num % 10000}"


def connect() -> ServerInfo:
    """Open (or reuse) Django's connection to the queue's database and describe the server."""
    alias = tq_settings.PROCRASTINATE_DATABASE_ALIAS
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version_num')::int")
            (version_num,) = cursor.fetchone()
    except DatabaseError as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to database {alias!r} ({first_line(exc)})",
            "check DATABASE_URL and that PostgreSQL is running",
        ) from exc
    return ServerInfo(
        alias=alias, database=str(connection.settings_dict["NAME"]), version=_version(version_num)
    )
