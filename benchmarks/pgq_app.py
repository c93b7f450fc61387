"""PgQueuer's side of the benchmark: the same two no-op tasks, on either of PgQueuer's drivers.

`benchmarks.pgq_worker` runs `create_manager(driver)` with BENCH_PGQ_DSN set; the client defers
through `connect(driver)`. Two drivers, two systems of the harness: psycopg ("pgq", the driver
this project uses) and asyncpg ("pgq-asyncpg", PgQueuer's own default and its fastest). Either
way one connection, autocommit, as PgQueuer's own factory opens it.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit

from pgqueuer import Job, QueueManager
from pgqueuer.queries import Queries

from benchmarks.probe import probe

NOOP = "bench.noop"
PING = "bench.ping"
DRIVERS = ("psycopg", "asyncpg")


def asyncpg_dsn(dsn: str) -> str:
    """The DSN without `gssencmode`, which asyncpg would send as a server setting (and fail):
    asyncpg never asks for GSS encryption, so there is nothing to turn off."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "gssencmode"]
    return parts._replace(query=urlencode(query)).geturl()


@asynccontextmanager
async def connect(driver: str) -> AsyncIterator[Queries]:
    """PgQueuer's queries over one new connection of `driver`, closed on leaving."""
    dsn = os.environ["BENCH_PGQ_DSN"]
    if driver == "asyncpg":
        import asyncpg
        from pgqueuer.db import AsyncpgDriver

        connection = await asyncpg.connect(asyncpg_dsn(dsn))
        try:
            yield Queries(AsyncpgDriver(connection))
        finally:
            await connection.close()
    elif driver == "psycopg":
        import psycopg
        from pgqueuer.db import PsycopgDriver

        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            yield Queries(PsycopgDriver(conn))
    else:
        raise ValueError(f"unknown PgQueuer driver {driver!r}, expected one of {DRIVERS}")


@asynccontextmanager
async def create_manager(driver: str = "psycopg") -> AsyncIterator[QueueManager]:
    async with connect(driver) as queries:
        manager = QueueManager(queries)

        @manager.entrypoint(NOOP)
        async def noop(job: Job) -> None:
            probe.job_started()

        @manager.entrypoint(PING)
        async def ping(job: Job) -> None:
            payload = json.loads(job.payload or b"{}")
            probe.report_start(payload["seq"], payload["sent"])

        yield manager
