"""Django's database connections across a worker's jobs: kept open, never handed on in a bad state.

Django closes its connections around each request unless CONN_MAX_AGE says otherwise, and
Procrastinate's Django integration does the same around each job: every job that touches the
database then opens a PostgreSQL connection and closes it, which cost most of the time of a task
doing one query (docs/performance.md). A worker instead keeps each thread's connections for
`TASKSQUEUE_WORKER_CONN_MAX_AGE` seconds, and after every job that may have used one it checks
what closing guaranteed:

- a connection left in a transaction (an atomic block not exited, a raw BEGIN, a failed
  statement inside a transaction) or with autocommit turned off is dropped, and so is the
  thread's connection object, so the next job starts outside any transaction;
- a connection on which an error occurred is kept only if it still answers;
- a connection idle for more than a second is checked before a job runs, so a server restart or
  an idle timeout between jobs costs a reconnection, not a failed job.

Sync tasks run in the worker's job threads (`job_threads.py`), where these checks run before and
after each job at no extra cost. Async tasks' ORM calls run in the one thread Django's async ORM
uses; the check is made there after a job only when a query ran on it since the last check (a
thread hop costs a sixth of an async no-op job). With Django's connection pool (`OPTIONS["pool"]`)
or a max age of 0 a connection is released after every job, to the pool or closed.
"""

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, reset_queries
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from procrastinate import JobContext
from procrastinate.contrib.django.db_cleanup import close_db_connections, close_db_connections_async
from procrastinate.middleware import AsyncCallNext, SyncCallNext, TaskMiddleware
from procrastinate.worker import Worker
from psycopg.pq import TransactionStatus

# A connection unused this long is checked (one `SELECT 1`) before the next job may use it. Under
# load every connection is reused within milliseconds and never checked; when jobs are sparse the
# check costs nothing anyone can see.
IDLE_CHECK_SECONDS = 1.0


def _leaves_state(conn: BaseDatabaseWrapper) -> bool:
    """Whether the next job on this connection could see what the last one left open."""
    raw = conn.connection
    return (
        conn.in_atomic_block
        or conn.needs_rollback
        or conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]
        or raw.closed
        or raw.info.transaction_status != TransactionStatus.IDLE
    )


class JobConnections:
    """The Django connections of one worker's jobs, in every thread that runs them."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        # When each connection was opened, by its driver connection (gone when that is).
        self._opened_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        # In a thread that runs sync jobs: `last_end`, when its last job ended (0: none yet).
        self._job_thread = threading.local()
        # The async ORM's thread: whether a connection may be open there, whether a query ran
        # there since the last check, and when that check was made.
        self._orm_open = True  # nothing is known before the first check
        self._orm_used = True
        self._orm_checked_at = 0.0
        # Django's connection objects that carry `_note_orm_query`, which is taken off at the end.
        self._noted: weakref.WeakSet[BaseDatabaseWrapper] = weakref.WeakSet()

    # Sync tasks: in their own job thread, before and after the task.

    def around_sync(self, call_next: SyncCallNext, context: JobContext, worker: Worker) -> Any:
        last_end = getattr(self._job_thread, "last_end", None)
        if last_end is None:
            self._job_thread.last_end = 0.0  # marks the thread as a job thread
        if time.monotonic() - (last_end or 0.0) > IDLE_CHECK_SECONDS:
            self._check_idle()
        try:
            return call_next()
        finally:
            self._settle()
            self._job_thread.last_end = time.monotonic()

    # Async tasks: their ORM calls run in Django's async ORM thread, reached by a thread hop.

    async def around_async(
        self, call_next: AsyncCallNext, context: JobContext, worker: Worker
    ) -> Any:
        if self._orm_open and time.monotonic() - self._orm_checked_at > IDLE_CHECK_SECONDS:
            self._orm_open = await sync_to_async(self._check_idle)()
            self._orm_checked_at = time.monotonic()
        try:
            return await call_next()
        finally:
            if self._orm_used:
                self._orm_used = False
                self._orm_open = await sync_to_async(self._settle)()
                self._orm_checked_at = time.monotonic()

    def _check_idle(self) -> bool:
        """Before a job, after a pause: drop the connections that no longer answer; say if any
        is kept."""
        return self._keep_only(lambda conn: conn.is_usable())

    def _settle(self) -> bool:
        """After a job: release what must not outlive it, keep the rest; say if any is kept."""
        reset_queries()  # the query log of DEBUG, which Django clears at each request
        return self._keep_only(self._reusable)

    def _keep_only(self, keep: Callable[[BaseDatabaseWrapper], bool]) -> bool:
        kept = False
        for conn in connections.all(initialized_only=True):
            if conn.connection is None:
                continue
            if keep(conn):
                kept = True
            else:
                self._discard(conn)
        return kept

    def _reusable(self, conn: BaseDatabaseWrapper) -> bool:
        if self.max_age == 0 or conn.pool or _leaves_state(conn):  # type: ignore[attr-defined]
            return False
        if conn.errors_occurred:
            # Django's own rule at the end of a request: a connection that still answers is kept.
            if not conn.is_usable():
                return False
            conn.errors_occurred = False
        opened_at = self._opened_at.get(conn.connection)
        return opened_at is None or time.monotonic() - opened_at < self.max_age

    @staticmethod
    def _discard(conn: BaseDatabaseWrapper) -> None:
        conn.close()
        if conn.in_atomic_block:
            # Django keeps the closed connection of an atomic block open on its side until the
            # block exits, and refuses to reconnect until then: the block will never exit, so this
            # thread gets a new connection object at its next query.
            del connections[conn.alias]

    # Bookkeeping, from Django's signal: which connections are new, and where queries ran.

    def _on_connection_created(self, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        self._opened_at[connection.connection] = time.monotonic()
        if not hasattr(self._job_thread, "last_end"):
            # Outside the job threads: the async ORM's thread (or the worker's own start-up).
            self._orm_open = self._orm_used = True
            # The wrapper object outlives its connections: one note per wrapper, not per connect.
            if self._note_orm_query not in connection.execute_wrappers:
                connection.execute_wrappers.append(self._note_orm_query)
                self._noted.add(connection)

    def _note_orm_query(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        self._orm_used = True
        return execute(sql, params, many, context)

    async def close_orm_thread(self) -> None:
        """At the end of the worker: the async ORM thread's connections are closed too."""
        await sync_to_async(connections.close_all)()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        connection_created.connect(self._on_connection_created, weak=False)
        try:
            yield
        finally:
            connection_created.disconnect(self._on_connection_created)
            # No job runs any more: a worker run in a process that goes on (tests, the toolkit)
            # leaves no note behind on connection objects that outlive it.
            for connection in self._noted:
                connection.execute_wrappers.remove(self._note_orm_query)

    def middleware(self, defaults: list[TaskMiddleware]) -> list[TaskMiddleware]:
        """The worker's task middleware: these outermost, Procrastinate's per-job closing gone."""
        closing = (close_db_connections, close_db_connections_async)
        return [self.around_sync, self.around_async, *(mw for mw in defaults if mw not in closing)]
