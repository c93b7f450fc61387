"""The toolkit's default mode: jobs live in Procrastinate's InMemoryConnector, run by a worker.

The worker is the production one (`LeanWorker`), so what decides a job's outcome (retries,
failures, aborts, unknown tasks) and the job log lines are the same code as in production. What
differs is listed in docs/testing.md: the storage (Procrastinate's in-memory imitation of its SQL,
one job fetched and finished at a time), one job at a time, no supervisor, pool or LISTEN, and
sync tasks run in the test's thread.
"""

import asyncio
import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from asgiref.sync import sync_to_async
from procrastinate import JobContext
from procrastinate.middleware import SyncCallNext
from procrastinate.testing import InMemoryConnector
from procrastinate.worker import Worker

from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.testing.rows import JobRow, to_job_row
from taiga.tasksqueue.worker.jobs.job_log import JobLog
from taiga.tasksqueue.worker.jobs.lean_worker import LeanWorker
from taiga.tasksqueue.worker.jobs.statements import BatchingJobManager


def _in_test_thread(
    loop: asyncio.AbstractEventLoop, call_next: SyncCallNext, context: JobContext, worker: Worker
) -> Any:
    """Sync task middleware: run the task in the thread where the test's sync ORM calls run.

    Procrastinate runs a sync task in a pool thread whose Django connection is not the test's: it
    would neither see the rows of a `django_db` test's transaction nor roll back with it. A
    thread-sensitive `sync_to_async` started on the worker's loop goes back to the test's thread
    (sync tests, through `run_pending_jobs_sync`) or to Django's async ORM thread (async tests).
    `async_to_sync` cannot be used here: it would make this pool thread the thread-sensitive one.
    """
    return asyncio.run_coroutine_threadsafe(sync_to_async(call_next)(), loop).result()


class InMemoryQueue:
    def __init__(self) -> None:
        self.connector = InMemoryConnector()

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        with manager.use_connector(self.connector):
            yield

    def rows(self) -> list[JobRow]:
        return [to_job_row(row) for _, row in sorted(self.connector.jobs.items())]

    def clear(self) -> None:
        self.connector.reset()

    async def run(self) -> None:
        in_test_thread = functools.partial(_in_test_thread, asyncio.get_running_loop())
        app = manager.app
        worker = LeanWorker(
            app=app,
            jobs=BatchingJobManager(self.connector),
            job_log=JobLog(),
            wait=False,  # return as soon as no job is due
            concurrency=1,  # one job at a time: a job deferred by a job is run by the same pass
            listen_notify=False,  # nothing to wait for: the pass ends when no job is due
            install_signal_handlers=False,  # the test runner owns the signals
            delete_jobs="never",  # finished jobs stay for the test to assert on
            # Replaces the Django app's connection-cleanup middleware, which would close the
            # test's own connection (and break its transaction) once tasks run in its thread.
            task_middleware=[in_test_thread],
        )
        await worker.run()  # type: ignore[no-untyped-call]  # Procrastinate's, untyped
