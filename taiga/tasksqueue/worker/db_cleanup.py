"""Closing the Django connections that async tasks used, without a thread hop when none was.

The Django integration closes Django's connections around every task, as Django does around a
request. For an async task that means two hops to the thread where the async ORM runs, before and
after, about a sixth of the worker's time per job; most async tasks never open a connection there.
This middleware makes the hops only while a connection may be open: Django's `connection_created`
signal says when one was opened, and the cleanup says whether one stays open (CONN_MAX_AGE > 0).
Sync tasks keep Procrastinate's middleware, which runs in their own thread without a hop.
"""

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections, reset_queries
from django.db.backends.signals import connection_created
from procrastinate import JobContext
from procrastinate.contrib.django.db_cleanup import close_db_connections_async
from procrastinate.middleware import AsyncCallNext, TaskMiddleware
from procrastinate.worker import Worker


class AsyncTaskConnections:
    def __init__(self) -> None:
        self.maybe_open = threading.Event()
        self.maybe_open.set()  # nothing is known before the first cleanup

    def _on_connection_created(self, **kwargs: Any) -> None:
        self.maybe_open.set()

    def _cleanup(self) -> None:
        close_old_connections()
        reset_queries()
        # This runs in the thread the async ORM uses, where async tasks open their connections.
        if all(conn.connection is None for conn in connections.all(initialized_only=True)):
            self.maybe_open.clear()

    async def __call__(self, call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
        if self.maybe_open.is_set():
            await sync_to_async(self._cleanup)()
        try:
            return await call_next()
        finally:
            if self.maybe_open.is_set():
                await sync_to_async(self._cleanup)()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        connection_created.connect(self._on_connection_created, weak=False)
        try:
            yield
        finally:
            connection_created.disconnect(self._on_connection_created)

    def replacing_procrastinates(self, middleware: list[TaskMiddleware]) -> list[TaskMiddleware]:
        return [self if mw is close_db_connections_async else mw for mw in middleware]
