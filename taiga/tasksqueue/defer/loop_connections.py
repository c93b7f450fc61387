"""Connections of the queue's own for async defers that no transaction of the caller can hold.

A defer through Django's connection from async code hops to a thread and back (`sync_to_async`), as
Django's async ORM does: about a third of an async defer's time on a loopback server. The hop is
what puts the INSERT inside the caller's transaction, when the caller's thread-sensitive thread
(the sync thread an `async_to_sync` waits in, or the one Django's async ORM runs on) is in one; its
connection is the only one that can join that transaction.

Which thread that is, asgiref decides. Rather than guess, `in_a_transaction()` looks at every Django
connection to the queue's database opened in this process (remembered from Django's
`connection_created` signal): when none of them is in a transaction, there is none for a defer to
join, and `LoopConnections` sends the INSERT over an autocommit psycopg connection of the event
loop's own, as it would have been sent on Django's (committed when the defer returns). Otherwise
the defer hops.
"""

import select
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import Any, LiteralString

import psycopg
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from taiga.tasksqueue.connection_params import queue_connection_params

# More connections than the loop ever runs defers at once would only sit idle; when all are busy,
# a defer goes through Django's connection instead of opening more, so that a burst of concurrent
# defers never takes more of the server's connection slots than this, per event loop.
MAX_CONNECTIONS = 4

_lock = threading.Lock()
_opened: tuple[weakref.ref[BaseDatabaseWrapper], ...] = ()


def _remember(connection: BaseDatabaseWrapper) -> None:
    global _opened
    with _lock:
        # Copied on write: readers go through the tuple they got without a lock.
        _opened = (
            *(ref for ref in _opened if ref() not in (None, connection)),
            weakref.ref(connection),
        )


def _on_connection_created(*, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    _remember(connection)


connection_created.connect(_on_connection_created, dispatch_uid="tasksqueue.defer.loop_connections")
# Connections opened before this module was imported (in this thread: other threads open theirs
# later) would otherwise go unseen. None can be open before the settings are: while a settings
# module that imports this app is itself being imported, asking would make Django read (and keep)
# its database settings half-written.
if settings.configured:
    for _connection in connections.all(initialized_only=True):
        if _connection.connection is not None:
            _remember(_connection)


def in_a_transaction(alias: str) -> bool:
    """Whether any Django connection to `alias`, in any thread, is inside a transaction now."""
    for ref in _opened:
        wrapper = ref()
        if wrapper is None or wrapper.alias != alias:
            continue
        # Attributes only: asking the connection (get_autocommit()) is refused in async code.
        if wrapper.in_atomic_block or (wrapper.connection is not None and not wrapper.autocommit):
            return True
    return False


class LoopConnections:
    """The autocommit connections of one event loop, opened when a defer needs one and closed when
    the loop shuts down.

    The loop's shutdown (`asyncio.run`, `asyncio.Runner`, pytest-asyncio) closes the async
    generators still open in it; `_closer` is one, started on the loop, so its `finally` closes the
    connections there. A loop closed without that leaves them to the garbage collector.
    """

    def __init__(self, alias: str, generation: int) -> None:
        self.alias = alias
        self.generation = generation
        # Statements prepared as the worker's are: PostgreSQL plans a defer's INSERT once per
        # connection, not per call; none behind a transaction-mode pooler, which cannot carry them
        # (`connection_params.py`), unless the database's OPTIONS set prepare_threshold.
        self.params = queue_connection_params(alias)
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.opened = 0
        self.closing = False
        self._closer = self._close_at_shutdown()

    async def start(self) -> None:
        await anext(self._closer)

    async def close(self) -> None:
        await self._closer.aclose()

    async def _close_at_shutdown(self) -> AsyncGenerator[None]:
        try:
            yield
        finally:
            self.closing = True
            idle, self.idle = self.idle, []
            for connection in idle:
                await connection.close()

    def has_room(self) -> bool:
        """Whether a defer can have a connection without waiting for one."""
        return bool(self.idle) or self.opened < MAX_CONNECTIONS

    async def fetch_all(
        self, query: LiteralString, arguments: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        connection = await self._take()
        try:
            cursor = await connection.execute(query, arguments)
            return await cursor.fetchall()
        finally:
            await self._give_back(connection)

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        while self.idle:
            connection = self.idle.pop()
            if _quiet(connection):
                return connection
            self.opened -= 1
            await connection.close()
        self.opened += 1
        try:
            return await psycopg.AsyncConnection.connect(**self.params, autocommit=True)
        except BaseException:
            self.opened -= 1
            raise

    async def _give_back(self, connection: psycopg.AsyncConnection[Any]) -> None:
        # A statement that failed in autocommit leaves the connection idle and usable; one
        # interrupted (cancelled) or cut leaves it busy or broken.
        idle = connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if idle and not self.closing:
            self.idle.append(connection)
            return
        self.opened -= 1
        await connection.close()


def _quiet(connection: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection is still open. The server sends nothing to an idle connection
    until it closes it (a restart, `pg_terminate_backend`, an idle timeout), so anything to read
    means that it did; looking does not wait."""
    if connection.closed:
        return False
    poll = select.poll()
    poll.register(connection.fileno(), select.POLLIN)
    return not poll.poll(0)
