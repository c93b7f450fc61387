"""The toolkit's default mode: jobs live in Procrastinate's InMemoryConnector, run by a worker.

The worker is the production one (`LeanWorker`), so what decides a job's outcome (retries,
failures, aborts, unknown tasks) and the job log lines are the same code as in production. What
differs is listed in docs/testing.md: the storage (Procrastinate's in-memory imitation of its SQL,
one job fetched and finished at a time), one job at a time, no supervisor, pool or LISTEN, and
sync tasks run in the test's thread.
"""

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from procrastinate.testing import InMemoryConnector

from taiga.tasksqueue.backends.results import ENDED, RunRecord, StoredJob
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.testing.rows import JobRow, to_job_row
from taiga.tasksqueue.worker.jobs.attempts import AttemptRecord
from taiga.tasksqueue.worker.jobs.job_log import JobLog
from taiga.tasksqueue.worker.jobs.lean_worker import LeanWorker
from taiga.tasksqueue.worker.jobs.statements import BatchingJobManager


async def _in_test_thread(call: Callable[[], Any]) -> Any:
    """Run a sync task (or the hook its run leaves for after its outcome) in the thread where the
    test's sync ORM calls run.

    Procrastinate runs a sync task in a pool thread whose Django connection is not the test's: it
    would neither see the rows of a `django_db` test's transaction nor roll back with it. A
    thread-sensitive `sync_to_async` started on the worker's loop goes back to the test's thread
    (sync tests, through `run_pending_jobs_sync`) or to Django's async ORM thread (async tests).
    """
    return await sync_to_async(call)()


class ToolkitConnector(InMemoryConnector):
    """Procrastinate's in-memory connector, keeping what the worker's SQL keeps besides the
    jobs: the runs' records (`tasksqueue_jobattempt`), and job ids reserved ahead of a defer
    (Django tasks enqueued on commit). It answers `get_result` from them (`stored_job`)."""

    def reset(self) -> None:
        super().reset()
        self.attempts: dict[int, list[AttemptRecord]] = {}

    def add_attempt(self, record: AttemptRecord) -> None:
        self.attempts.setdefault(record.job_id, []).append(record)

    def reserve_job_id(self) -> int:
        return next(self.job_counter)

    def renumber(self, job_id: int, reserved: int) -> None:
        row = self.jobs.pop(job_id)
        row["id"] = reserved
        self.jobs[reserved] = row
        self.events[reserved] = self.events.pop(job_id)

    def stored_job(self, job_id: int) -> StoredJob | None:
        row = self.jobs.get(job_id)
        if row is None:
            return None
        events = self.events.get(job_id, [])
        started = [event["at"] for event in events if event["type"] == "started"]
        ended = [event["at"] for event in events if event["type"] in ENDED]
        return StoredJob(
            task_name=row["task_name"],
            queue_name=row["queue_name"],
            priority=row["priority"],
            status=row["status"],
            args=row["args"],
            scheduled_at=row["scheduled_at"],
            worker_id=row["worker_id"],
            first_started=min(started, default=None),
            last_started=max(started, default=None),
            last_ended=max(ended, default=None),
            runs=[
                RunRecord(
                    worker_id=record.worker_id,
                    outcome=record.outcome,
                    error_class=record.error_class,
                    traceback=record.traceback,
                    return_value=record.return_value,
                )
                for record in self.attempts.get(job_id, [])
            ],
        )


class InMemoryQueue:
    def __init__(self) -> None:
        self.connector = ToolkitConnector()

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        with manager.use_connector(self.connector):
            yield

    def rows(self) -> list[JobRow]:
        return [to_job_row(row) for _, row in sorted(self.connector.jobs.items())]

    def clear(self) -> None:
        self.connector.reset()

    async def run(self) -> None:
        app = manager.app
        worker = LeanWorker(
            app=app,
            jobs=BatchingJobManager(self.connector),
            job_log=JobLog(),
            run_in_thread=_in_test_thread,
            wait=False,  # return as soon as no job is due
            concurrency=1,  # one job at a time: a job deferred by a job is run by the same pass
            listen_notify=False,  # nothing to wait for: the pass ends when no job is due
            install_signal_handlers=False,  # the test runner owns the signals
            delete_jobs="never",  # finished jobs stay for the test to assert on
            # None: the Django app's connection-cleanup middleware would close the test's own
            # connection (and break its transaction), as tasks run in its thread.
            task_middleware=[],
        )
        await worker.run()  # type: ignore[no-untyped-call]  # Procrastinate's, untyped
