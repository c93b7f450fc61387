"""PgQueuer's side of the benchmark: the same two no-op tasks, and the factory `pgq run` calls.

Run as `python -m pgqueuer run benchmarks.pgq_app:create_manager ...` with BENCH_PGQ_DSN set. It
uses PgQueuer's psycopg driver (the driver this project uses), one autocommit connection, as
PgQueuer's own factory does.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from pgqueuer import Job, QueueManager
from pgqueuer.db import PsycopgDriver
from pgqueuer.queries import Queries

from benchmarks.probe import probe

NOOP = "bench.noop"
PING = "bench.ping"


@asynccontextmanager
async def create_manager() -> AsyncIterator[QueueManager]:
    connection = await psycopg.AsyncConnection.connect(os.environ["BENCH_PGQ_DSN"], autocommit=True)
    async with connection:
        manager = QueueManager(Queries(PsycopgDriver(connection)))

        @manager.entrypoint(NOOP)
        async def noop(job: Job) -> None:
            probe.job_started()

        @manager.entrypoint(PING)
        async def ping(job: Job) -> None:
            payload = json.loads(job.payload or b"{}")
            probe.report_start(payload["seq"], payload["sent"])

        yield manager
