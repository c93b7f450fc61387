"""Procrastinate's worker with a lean path for each job.

Profiled at concurrency 10, Procrastinate's `Worker` spent most of its per-job time around the
task rather than in it: a semaphore task and a two-task wait per fetch, one fetch statement per
job, log records whose `extra` dicts (`attrs.asdict` of the job) are built even when the record
is dropped, middleware chains and closures rebuilt per job, and a task of its own to record each
outcome. This subclass keeps everything else of Procrastinate's worker (registration, heartbeat,
LISTEN/NOTIFY, abort requests, the periodic deferrer, the graceful shutdown and its timeout) and
replaces two methods:

- `_fetch_and_process_jobs`: one statement fetches a job for every free slot
  (`BatchingJobManager.fetch_jobs`); the loop then waits for slots to free up, letting the jobs
  that finish in the same turn of the loop free theirs, so that one fetch serves them all;
- `_process_job`: the task runs inside its middleware (resolved once per task) and the worker's
  middleware (`task_call.py`), our two log lines are written, and the outcome is decided as
  Procrastinate decides it (`outcome.py`, `delete_jobs`) and recorded with the other outcomes
  that are ready (group commit), or by Procrastinate's retry statement, each with its run's record
  when it has one (`attempts.py`); then the hook the task left in its context for
  after the recording, if any, runs (Django tasks send `task_finished` there).

It extends two more: `_run_loop` first records who the worker is, and `_shutdown` first puts back
the jobs a lost fetch answer left in "doing" for it (the supervisor's `before_unregister`).
"""

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attr
from procrastinate import job_context, utils
from procrastinate.jobs import DeleteJobCondition, Job, Status
from procrastinate.retry import RetryDecision
from procrastinate.worker import Worker

from taiga.tasksqueue.observability import tracing
from taiga.tasksqueue.observability.worker_metrics import RETRY, WorkerMetrics
from taiga.tasksqueue.worker.jobs.attempts import (
    AFTER_RECORDED,
    AfterRecorded,
    AttemptRecord,
    StoredReturn,
    error_fields,
)
from taiga.tasksqueue.worker.jobs.job_log import JobLog, describe_error
from taiga.tasksqueue.worker.jobs.outcome import UNKNOWN_TASK, decide, malformed_args
from taiga.tasksqueue.worker.jobs.statements import BatchingJobManager
from taiga.tasksqueue.worker.jobs.task_call import TaskCalls, ThreadRunner
from taiga.tasksqueue.worker.outages import Outages

# What runs when the worker stops, before it unregisters: given the worker.
BeforeUnregister = Callable[["LeanWorker"], Awaitable[None]]


class LeanWorker(Worker):
    def __init__(
        self,
        *,
        jobs: BatchingJobManager,
        job_log: JobLog,
        run_in_thread: ThreadRunner = utils.sync_to_async,
        metrics: WorkerMetrics | None = None,
        before_unregister: BeforeUnregister | None = None,
        outages: Outages | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.jobs = jobs
        self.before_unregister = before_unregister
        self.outages = outages or Outages()
        self.job_log = job_log
        self.run_in_thread = run_in_thread
        self.metrics = metrics
        self._slot_freed = asyncio.Event()
        # Runs holding a slot (by their context's identity: a job retried at once may run again
        # before its first run is done): from the fetch until the outcome is recorded, or until
        # the task is done when the outcome cannot change what the next fetch finds.
        self._holding: set[int] = set()
        self.task_calls = TaskCalls(self, run_in_thread)

    @property
    def running(self) -> bool:
        """Registered and running (Procrastinate holds the loop for exactly that time)."""
        return self._loop is not None

    def stop(self) -> None:
        super().stop()  # type: ignore[no-untyped-call]  # Procrastinate's, untyped
        # The fetch loop may be waiting for a free slot: wake it so that it sees the stop.
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._slot_freed.set)

    def handled_job_ids(self) -> set[int]:
        """The jobs this worker runs, or whose outcome it is still recording."""
        return {context.job.id for context in self._running_jobs.values() if context.job.id}

    async def _shutdown(self, side_tasks: list[asyncio.Task[Any]]) -> None:
        # Procrastinate's shutdown ends by unregistering, which leaves this worker's jobs in
        # "doing" without a worker: what a fetch whose answer was lost left there must be put
        # back first, while the rows still say whose they are. No fetch is in flight any more.
        if self.before_unregister is not None:
            await self.before_unregister(self)
        await super()._shutdown(side_tasks)

    async def _run_loop(self) -> None:
        # Registered by now (Procrastinate's `run`): say who this worker is, then work.
        assert self.worker_id is not None
        self.outages.recovered()
        name = self.worker_name or "worker"
        await self.jobs.record_worker(
            self.worker_id, name, self.concurrency, self.queues, self.outages
        )
        await super()._run_loop()  # type: ignore[no-untyped-call]  # Procrastinate's, untyped

    async def _fetch_and_process_jobs(self) -> None:
        """Start jobs until the queue has none ready for the free slots, or a stop is asked."""
        while not self._stop_event.is_set():
            free = self.concurrency - len(self._holding)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            if free < self.concurrency:
                # Jobs started a moment ago may finish within one turn of the loop (short
                # tasks do): let them, so that one fetch fills all their slots, instead of
                # fetches alternating between two groups of jobs for good.
                await asyncio.sleep(0)
                free = self.concurrency - len(self._holding)
            # Cleared before the fetch: a job deferred while it runs is fetched next time.
            self._new_job_event.clear()
            assert self.worker_id is not None
            jobs = await self.jobs.fetch_jobs(self.queues, self.worker_id, free)
            for job in jobs:
                self._start(job)
            if len(jobs) < free:
                return

    def _start(self, job: Job) -> None:
        job_id = job.id
        assert job_id is not None
        refusal = malformed_args(job.task_kwargs)
        if refusal is not None:
            # Procrastinate's own log lines (at shutdown, on aborts) read the args as a dict.
            job = attr.evolve(job, task_kwargs={})
        # A traced defer's context, never the task's argument (with or without OpenTelemetry).
        trace_parent = job.task_kwargs.pop(tracing.TRACE_KEY, None)
        context = job_context.JobContext(
            app=self.app,
            worker_name=self.worker_name,
            worker_queues=self.queues,
            additional_context=self.additional_context.copy() if self.additional_context else {},
            job=job,
            abort_reason=functools.partial(self._job_ids_to_abort.get, job_id),
            start_timestamp=time.time(),
        )
        running = asyncio.create_task(
            self._process_job(context, refusal, trace_parent),
            name=f"process job {job.task_name}[{job_id}]",
        )
        self._running_jobs[running] = context
        self._holding.add(id(context))
        running.add_done_callback(self._job_done)
        self.job_log.started(job, job_id)
        if self.metrics is not None:
            self.metrics.started(job)

    def _job_done(self, running: asyncio.Task[Any]) -> None:
        context = self._running_jobs.pop(running)
        assert context.job.id is not None
        # A job cancelled before it ran (a shutdown) has not ended in the log yet; a job that
        # ended may be running again already (a retry at once), and that run is not this one.
        if self.job_log.running.get(context.job.id) is context.job:
            del self.job_log.running[context.job.id]
        self._release(context)

    def _release(self, context: job_context.JobContext) -> None:
        if id(context) in self._holding:
            self._holding.discard(id(context))
            self._slot_freed.set()

    async def _process_job(
        self,
        context: job_context.JobContext,
        refusal: str | None = None,
        trace_parent: object = None,
    ) -> None:
        """Run the job and record its outcome; `refusal` says why it cannot run at all;
        `trace_parent`, the context its defer's span left in it, if any (`tracing.py`)."""
        job = context.job
        job_id = job.id
        assert job_id is not None
        task = self.app.tasks.get(job.task_name)
        if task is None:
            refusal = UNKNOWN_TASK
        started = context.start_timestamp
        status, retry_decision, record = Status.SUCCEEDED, None, None
        span = tracing.run_span(job, trace_parent) if tracing.INSTALLED else None
        try:
            if refusal is not None:
                status = Status.FAILED
                record = self._refused_run(context, refusal)
                self.job_log.ended(job, job_id, started, "failed", refusal)
            else:
                assert task is not None
                result = await self.task_calls.run(task, context)
                if isinstance(result, StoredReturn):
                    record = self._run_record(context, "succeeded", return_value=result.value)
                self.job_log.ended(job, job_id, started, "succeeded")
        except BaseException as error:
            assert task is not None  # a job refused raises nothing
            status, retry_decision = decide(task, context, error)
            final = "retry" if retry_decision else status.value
            record = self._run_record(context, status.value, **error_fields(error))
            self.job_log.ended(
                job,
                job_id,
                started,
                final,
                describe_error(error),
                traceback_of=error if final == "failed" else None,
            )
            if span is not None:
                span.failed(error)
        if span is not None:
            span.ended(status, retry_decision is not None, refusal)
        if self.metrics is not None:
            outcome = RETRY if retry_decision else status.value
            self.metrics.ended(job, outcome, time.time() - started)
        if retry_decision is None and job.lock is None:
            # Recording this outcome can change no other job's turn (only a retry, or the end
            # of a lock's running job, can): the next jobs are fetched while it is on its way.
            self._release(context)
        await self._record(context, status, retry_decision, record)
        after_recorded = context.additional_context.get(AFTER_RECORDED)
        if after_recorded is not None:
            await self._after_recorded(after_recorded, status, retry_decision is not None, record)

    def _run_record(
        self, context: job_context.JobContext, outcome: str, **fields: Any
    ) -> AttemptRecord:
        job = context.job
        assert job.id is not None
        return AttemptRecord(job.id, job.attempts + 1, job.worker_id, outcome, **fields)

    def _refused_run(self, context: job_context.JobContext, refusal: str) -> AttemptRecord:
        kind, _, _ = refusal.partition(":")
        return self._run_record(context, "failed", error_class=kind, traceback=refusal)

    async def _after_recorded(
        self, hook: AfterRecorded, status: Status, retried: bool, record: AttemptRecord | None
    ) -> None:
        """Run the hook the task left for after its outcome is recorded (`AFTER_RECORDED`), and
        what it hands back; its errors are logged, the outcome stands."""
        try:
            rest = hook(status, retried, record)
            if inspect.isawaitable(rest):
                await rest
            elif rest is not None:
                await self.run_in_thread(rest)
        except Exception:
            self.logger.exception("After the job's outcome was recorded, its task's hook failed")

    async def _record(
        self,
        context: job_context.JobContext,
        status: Status,
        retry_decision: RetryDecision | None,
        record: AttemptRecord | None,
    ) -> None:
        job = context.job
        job_id = job.id
        assert job_id is not None
        if retry_decision is None:
            delete = self.delete_jobs == DeleteJobCondition.ALWAYS or (
                self.delete_jobs == DeleteJobCondition.SUCCESSFUL and status == Status.SUCCEEDED
            )
            recorded: asyncio.Future[None] = self.jobs.finish_soon(job_id, status, delete, record)
        else:
            assert record is not None  # a retry follows a run that failed
            recorded = asyncio.ensure_future(self.jobs.retry(job, retry_decision, record))
        try:
            await asyncio.shield(recorded)
        except asyncio.CancelledError:
            # Cancelled while its outcome is on its way (an abort, or a shutdown past its
            # timeout): the outcome is still recorded before the job lets go of its slot.
            await recorded
            raise
        finally:
            self._job_ids_to_abort.pop(job_id, None)
            self._release(context)
        if job.lock is not None:
            # The lock's next job may be ready now, and no notification says so: without this
            # a worker with free slots would start it only at its next polling interval.
            self._new_job_event.set()
