"""Surviving a database that drops connections: retried statements and capped backoff.

A server restart, `pg_terminate_backend` or a network cut kills the worker's pooled connections.
Procrastinate then fails the statement, and a failed fetch or finish ends its worker. Here a
statement that failed because its connection died is sent again on a fresh connection (the pool
replaces dead ones), a few times, before the error is let through to the worker's supervisor
(`supervisor.py`), which restarts the worker after a backoff.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, LiteralString

import psycopg
from procrastinate import PsycopgConnector, exceptions

from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
from taiga.tasksqueue.text import first_line
from taiga.tasksqueue.worker import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)

# Delays before the retries of one statement, in seconds.
STATEMENT_RETRY_DELAYS = (0.05, 0.25, 1.0)

# Ending or retrying a job twice is harmless only if the second call is known to be a repeat: the
# first one may have been committed just before its connection died.
# The start of both statements' errors: '... or not in "doing" ...' and '... or has an invalid
# status to retry'.
_JOB_ALREADY_ENDED = "Job was not found or "
_ENDING_STATEMENTS = ("procrastinate_finish_job", "procrastinate_retry_job")


def connection_lost(error: BaseException) -> bool:
    """True when `error` means the connection died, not that the statement was wrong."""
    cause = error.__cause__ if isinstance(error, exceptions.ConnectorException) else error
    return isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError)


def _already_ended(error: BaseException, query: str) -> bool:
    ending = any(name in query for name in _ENDING_STATEMENTS)
    return ending and _JOB_ALREADY_ENDED in str(error.__cause__ or error)


class Backoff:
    """Capped exponential delays with jitter: 0.5 s, 1 s, 2 s ... up to `cap`."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay: float = min(self.cap, self.first * 2.0**self.failures)
        self.failures += 1
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.failures = 0


class ReconnectingConnector(PsycopgConnector):
    """Procrastinate's psycopg connector, with statements retried after a lost connection; it
    knows whether its listener is listening, and tells `metrics` of losses and recoveries."""

    def __init__(self, metrics: WorkerMetrics | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics
        self.listening = False

    async def _loop_notify(self, *args: Any, **kwargs: Any) -> None:
        # Procrastinate's listener calls this once its LISTENs are done on a fresh connection,
        # and it returns when that connection dies (a stop cancels it instead).
        self.listening = True
        self._recovered()
        try:
            await super()._loop_notify(*args, **kwargs)
        finally:
            self.listening = False
        if self.metrics is not None:
            self.metrics.connection_lost()

    async def _retrying[T](self, run: Callable[[], Awaitable[T]]) -> T:
        for attempt, delay in enumerate(STATEMENT_RETRY_DELAYS):
            try:
                result = await run()
            except exceptions.ConnectorException as exc:
                if not connection_lost(exc):
                    raise
                if self.metrics is not None:
                    self.metrics.connection_lost()
                logger.warning(
                    "database connection lost (%s); sending the statement again in %gs",
                    first_line(exc.__cause__ or exc),
                    delay,
                )
                await asyncio.sleep(delay)
                await self._drop_dead_connections()
            else:
                if attempt:
                    self._recovered()
                return result
        result = await run()
        self._recovered()
        return result

    def _recovered(self) -> None:
        if self.metrics is not None:
            self.metrics.reconnected()

    async def _drop_dead_connections(self) -> None:
        # The pool checks nothing on checkout; after a server restart all its idle connections
        # are dead, and each would fail one statement in turn.
        with contextlib.suppress(psycopg.Error):
            await self.pool.check()

    async def execute_query_async(self, query: LiteralString, **arguments: Any) -> None:
        attempts = 0

        async def once() -> None:
            nonlocal attempts
            attempts += 1
            try:
                await PsycopgConnector.execute_query_async(self, query, **arguments)
            except exceptions.ConnectorException as exc:
                if attempts == 1 or not _already_ended(exc, query):
                    raise

        await self._retrying(once)

    async def execute_query_one_async(
        self, query: LiteralString, **arguments: Any
    ) -> dict[str, Any]:
        return await self._retrying(
            lambda: PsycopgConnector.execute_query_one_async(self, query, **arguments)
        )

    async def execute_query_all_async(
        self, query: LiteralString, **arguments: Any
    ) -> list[dict[str, Any]]:
        return await self._retrying(
            lambda: PsycopgConnector.execute_query_all_async(self, query, **arguments)
        )
