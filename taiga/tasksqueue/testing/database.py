"""The toolkit's real-database mode (`@pytest.mark.tasksqueue_db`): jobs are rows of PostgreSQL's
`procrastinate_jobs`, run by the project's own worker in one-shot mode.

The worker uses its own connections, so the test must commit what it wants the worker to see:
`django_db(transaction=True)`. Django's flush after such a test skips Procrastinate's tables
(their models are unmanaged), so this mode empties them itself.
"""

import contextlib
from collections.abc import Iterator

import psycopg
from django.db import connections
from procrastinate.contrib.django import connector_params
from psycopg.rows import DictRow, dict_row

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.testing.rows import JOB_COLUMNS, JobRow, to_job_row
from taiga.tasksqueue.worker.options import WorkerOptions
from taiga.tasksqueue.worker.run import run_worker

SELECT_JOBS = f"SELECT {', '.join(JOB_COLUMNS)} FROM procrastinate_jobs ORDER BY id"
# RESTART IDENTITY: job ids start at 1 in every test, as in the in-memory mode. CASCADE: tables of
# other apps may reference jobs; their rows go with the jobs.
EMPTY_TABLES = (
    "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, "
    "procrastinate_workers RESTART IDENTITY CASCADE"
)


class NotTransactionalTest(RuntimeError):
    """The test runs inside a transaction that the worker's connections cannot see."""


class DatabaseQueue:
    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        if connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].in_atomic_block:
            raise NotTransactionalTest(
                "A tasksqueue_db test needs django_db(transaction=True): the worker uses its own "
                "connections, which cannot see rows of the test's transaction. Mark the test "
                "@pytest.mark.django_db(transaction=True), or drop its django_db mark "
                "(tasksqueue_db adds the transactional one)."
            )
        yield

    def rows(self) -> list[JobRow]:
        with self._connect() as connection:
            return [to_job_row(row) for row in connection.execute(SELECT_JOBS)]

    def clear(self) -> None:
        with self._connect() as connection:
            connection.execute(EMPTY_TABLES)

    async def run(self) -> None:
        await run_worker(WorkerOptions(one_shot=True, install_signal_handlers=False))

    def _connect(self) -> psycopg.Connection[DictRow]:
        # Not Django's connection: its sync API refuses to run in an async test.
        return psycopg.connect(
            **connector_params(tq_settings.PROCRASTINATE_DATABASE_ALIAS),
            autocommit=True,
            row_factory=dict_row,
        )
