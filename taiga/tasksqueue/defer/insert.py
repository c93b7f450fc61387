"""Writing jobs: one INSERT of the jobs' JSON documents as they were encoded.

Procrastinate's defer builds a job object per item, copies and logs it, and adapts a composite
value per job, which cost more than the database's work for the same jobs. Here one call inserts
one statement: VALUES for one job, the elements of a JSON array for many; all jobs of a call share
their options and differ in their arguments, sent as JSON text. The rows are those Procrastinate's
defer function would insert, through the Django connection (and so inside the caller's
transaction); its triggers do the rest (notification, events). An async defer that no transaction
can hold goes over a connection of its event loop's own instead (`loop_connections.py`). A connector
swapped in (the test toolkit's in-memory queue) gets Procrastinate's own defer. With OpenTelemetry
installed, each call is a span whose context the jobs' arguments carry (`observability/tracing.py`).

The statement goes straight to a Django cursor rather than through Procrastinate's
`DjangoConnector`, whose per-call wrapping (JSON values rewrapped, two exception-mapping context
managers, a dict per returned row) cost about 0.03 ms of client CPU per defer; the errors callers
see are still Procrastinate's (`_connector_error`).
"""

import asyncio
import contextlib
import functools
import json
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, LiteralString, Protocol, cast

import psycopg
from asgiref.sync import AsyncToSync, sync_to_async
from django.db import Error as DjangoDatabaseError
from django.db import connections
from procrastinate import connector as connector_module
from procrastinate import exceptions
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.jobs import Job
from procrastinate.manager import QUEUEING_LOCK_CONSTRAINT, JobManager
from psycopg.pq import TransactionStatus

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.defer.loop_connections import LoopConnections, in_a_transaction
from taiga.tasksqueue.defer.options import JobOptions
from taiga.tasksqueue.defer.queries import (
    END_OF_BATCH,
    INSERT_JOB,
    INSERT_JOBS,
    INSERT_RESERVED_JOB,
    RESERVE_JOB_ID,
)
from taiga.tasksqueue.observability import tracing


class ReservingConnector(Protocol):
    """A swapped-in connector that can reserve job ids (the test toolkit's in-memory queue)."""

    def reserve_job_id(self) -> int: ...

    def renumber(self, job_id: int, reserved: int) -> None: ...


class JobInserter:
    """Where defers go: the queue's database through Django's connection (or, for an async defer
    no transaction can hold, the event loop's own connections), unless a connector is swapped in.
    Its job manager is built once, and again after the database settings change, as are the
    loops' connections."""

    def __init__(self) -> None:
        self._job_manager: JobManager | None = None
        self._replacement: connector_module.BaseConnector | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopConnections] = (
            weakref.WeakKeyDictionary()
        )
        self._generation = 0  # of the database settings the loops' connections were opened with

    @property
    def job_manager(self) -> JobManager:
        if self._job_manager is None:
            self._job_manager = JobManager(
                self._replacement or DjangoConnector(alias=tq_settings.PROCRASTINATE_DATABASE_ALIAS)
            )
        return self._job_manager

    def reset(self) -> None:
        self._job_manager = None
        self._generation += 1

    @property
    def replacement(self) -> connector_module.BaseConnector | None:
        """The connector swapped in (`replaced_by`), if any."""
        return self._replacement

    def reserve_job_id(self) -> int:
        """An id for a job inserted later (`insert(..., job_id=)`), taken from the jobs' own
        sequence, so that no other job gets it."""
        if self._replacement is not None:
            return cast(ReservingConnector, self._replacement).reserve_job_id()
        with connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor() as cursor:
            cursor.execute(RESERVE_JOB_ID)
            [job_id] = cursor.fetchone()
        return int(job_id)

    @contextlib.contextmanager
    def replaced_by(self, replacement: connector_module.BaseConnector) -> Iterator[None]:
        previous = self._replacement
        self._replacement, self._job_manager = replacement, None
        try:
            yield
        finally:
            self._replacement, self._job_manager = previous, None

    def insert(
        self,
        task_name: str,
        options: JobOptions,
        args_json: str,
        *,
        many: bool = False,
        job_id: int | None = None,
    ) -> list[int]:
        """The ids of the jobs of `args_json`: one job's arguments as a JSON object, or (`many`) a
        JSON array of them, in whose order the ids come. One job may have a reserved `job_id`."""
        tracer = tracing.active_tracer() if tracing.INSTALLED else None
        if tracer is not None:
            write = functools.partial(self._insert, task_name, options, many=many, job_id=job_id)
            return tracing.traced_defer(
                tracer, write, task_name, options.queue, args_json, many=many, carry=self._carries
            )
        return self._insert(task_name, options, args_json, many=many, job_id=job_id)

    @property
    def _carries(self) -> bool:
        # The in-memory queue swapped in by the test toolkit keeps jobs' arguments as the task's.
        return self._replacement is None

    def _insert(
        self, task_name: str, options: JobOptions, args_json: str, *, many: bool, job_id: int | None
    ) -> list[int]:
        if self._replacement is not None:
            jobs = _jobs(task_name, options, args_json, many)
            ids = _job_ids(self.job_manager.batch_defer_jobs(jobs))
            if job_id is None:
                return ids
            cast(ReservingConnector, self._replacement).renumber(ids[0], job_id)
            return [job_id]
        return _insert_through_django(task_name, options, args_json, many, job_id)

    async def insert_async(
        self, task_name: str, options: JobOptions, args_json: str, *, many: bool = False
    ) -> list[int]:
        tracer = tracing.active_tracer() if tracing.INSTALLED else None
        if tracer is not None:
            write = functools.partial(self._insert_async, task_name, options, many=many)
            return await tracing.traced_defer_async(
                tracer, write, task_name, options.queue, args_json, many=many, carry=self._carries
            )
        return await self._insert_async(task_name, options, args_json, many=many)

    async def _insert_async(
        self, task_name: str, options: JobOptions, args_json: str, *, many: bool
    ) -> list[int]:
        if self._replacement is not None:
            jobs = _jobs(task_name, options, args_json, many)
            return _job_ids(await self.job_manager.batch_defer_jobs_async(jobs))
        own = await self._loop_connections(tq_settings.PROCRASTINATE_DATABASE_ALIAS)
        if own is None:
            return await sync_to_async(_insert_through_django)(task_name, options, args_json, many)
        query, arguments = _statement(task_name, options, args_json, many)
        try:
            rows = await own.fetch_all(query, arguments)
        except psycopg.Error as exc:
            raise _connector_error(exc, options) from exc
        return _ids(rows)

    async def _loop_connections(self, alias: str) -> LoopConnections | None:
        """The running loop's own connections, or None when the defer must go through Django's
        connection: a transaction it may have to join, or none of the loop's free."""
        loop = asyncio.get_running_loop()
        # A loop that async_to_sync runs for a waiting sync thread lives for one call: connections
        # of its own would be opened and closed per call, where the thread's is at hand.
        if loop in AsyncToSync.loop_thread_executors or in_a_transaction(alias):
            return None
        own = self._loops.get(loop)
        if own is None or (own.alias, own.generation) != (alias, self._generation):
            # Replaced before the old ones are closed, so that no other defer of the loop, while
            # this one waits for the closing, finds them and closes them again.
            old, own = own, LoopConnections(alias, self._generation)
            self._loops[loop] = own
            await own.start()
            if old is not None:
                await old.close()
        return own if own.has_room() else None


def _insert_through_django(
    task_name: str, options: JobOptions, args_json: str, many: bool, job_id: int | None = None
) -> list[int]:
    query, arguments = _statement(task_name, options, args_json, many)
    if job_id is not None:
        query, arguments = INSERT_RESERVED_JOB, {**arguments, "job_id": job_id}
    connection = connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, arguments)
            rows = cursor.fetchall()
            if many and connection.connection.info.transaction_status != TransactionStatus.IDLE:
                cursor.execute(END_OF_BATCH)
    except DjangoDatabaseError as exc:
        cause = exc.__cause__ or exc  # Django's errors wrap the driver's
        raise _connector_error(cause, options) from cause
    return _ids(rows)


def _statement(
    task_name: str, options: JobOptions, args_json: str, many: bool
) -> tuple[LiteralString, dict[str, Any]]:
    arguments = {
        "queue": options.queue,
        "task_name": task_name,
        "priority": options.priority,
        "lock": options.lock,
        "queueing_lock": options.queueing_lock,
        "scheduled_at": options.scheduled_at(),
        "args": args_json,
    }
    return (INSERT_JOBS if many else INSERT_JOB), arguments


def _jobs(task_name: str, options: JobOptions, args_json: str, many: bool) -> list[Job]:
    scheduled_at = options.scheduled_at()
    calls = json.loads(args_json)
    return [
        Job(
            id=None,
            queue=options.queue,
            task_name=task_name,
            priority=options.priority,
            lock=options.lock,
            queueing_lock=options.queueing_lock,
            task_kwargs=kwargs,
            scheduled_at=scheduled_at,
        )
        for kwargs in (calls if many else [calls])
    ]


def _job_ids(jobs: list[Job]) -> list[int]:
    return [job.id for job in jobs if job.id is not None]


def _ids(rows: Sequence[Sequence[Any]]) -> list[int]:
    # Ids come from a sequence, in the order the rows were inserted: the order of the arguments.
    return sorted(row[0] for row in rows)


def _connector_error(exc: BaseException, options: JobOptions) -> Exception:
    """What Procrastinate's own defer raises for this database error: `AlreadyEnqueued` for a
    queueing lock already taken, `ConnectorException` for anything else."""
    if (
        isinstance(exc, psycopg.errors.UniqueViolation)
        and exc.diag.constraint_name == QUEUEING_LOCK_CONSTRAINT
    ):
        return exceptions.AlreadyEnqueued(
            "Job cannot be enqueued: there is already a job in the queue with the queueing lock "
            f"{options.queueing_lock}"
        )
    return exceptions.ConnectorException()
