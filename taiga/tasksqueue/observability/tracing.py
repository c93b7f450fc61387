"""OpenTelemetry spans for defers and job runs, with the trace context carried in the job.

With OpenTelemetry's API installed (the `tracing` extra) and a tracer provider set up (an SDK), a
defer makes a `defer <task>` span (kind PRODUCER) around its INSERT, one for a `defer_many` batch,
and a worker makes a `run <task>` span (kind CONSUMER) per run of a job, current while the task
runs so that the task's own spans nest under it. Without the API, `INSTALLED` (checked once, at
import) is False: the defer path tests that flag and nothing else, the worker's per-job path that
flag and one dict pop (below).

Procrastinate's jobs have no headers, so the context travels in the job's JSON arguments: a traced
defer adds the W3C `traceparent` of its span under `TRACE_KEY`, a name no Python parameter can
have. Every worker takes it out before anything reads the arguments (`LeanWorker._start`, with or
without the API), so tasks never receive it, and a job deferred by a traced process runs on a
worker without the API. The run's span is a child of the defer's span (each attempt of a retried
job too): one run follows from one defer, as a function call follows its caller. The test
toolkit's in-memory queue carries no context; its jobs' arguments stay exactly the task's.
"""

import functools
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from procrastinate.jobs import Job, Status

from taiga.tasksqueue.conf import tq_settings

# The key of the defer's trace context in a job's arguments: a dot cannot be in a parameter name.
TRACE_KEY = "tasksqueue.traceparent"

TRACER_NAME = "taiga.tasksqueue"


def split_trace(arguments: Any) -> tuple[Any, str | None]:
    """A job's stored arguments without the trace key, and the traceparent it held (or None):
    what the dashboard, the shell and the test toolkit show is the task's arguments only."""
    if isinstance(arguments, dict) and TRACE_KEY in arguments:
        rest = dict(arguments)
        return rest, rest.pop(TRACE_KEY)
    return arguments, None


# The spans' attributes: never the job's arguments.
TASK = "tasksqueue.task"
QUEUE = "tasksqueue.queue"
JOB_ID = "tasksqueue.job_id"
JOB_COUNT = "tasksqueue.job_count"  # a defer_many's batch
ATTEMPT = "tasksqueue.attempt"  # 1 for the first run
OUTCOME = "tasksqueue.outcome"  # succeeded, failed, aborted or retry, as the job log says

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:
    INSTALLED = False
else:
    INSTALLED = True
    _PROPAGATOR = TraceContextTextMapPropagator()


@functools.cache
def active_tracer() -> "trace.Tracer | None":
    """The tracer spans come from, or None when they would go nowhere: TASKSQUEUE_TRACING is off,
    or no tracer provider was set up before this process's first defer or job (looked up once:
    the global provider is set once, at start-up, and looking for one that is not there costs
    about 2 µs, on every defer and every job)."""
    if not tq_settings.TASKSQUEUE_TRACING:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider.get_tracer(TRACER_NAME)


@receiver(setting_changed)
def _forget_tracer(*, setting: str, **kwargs: Any) -> None:
    if setting == "TASKSQUEUE_TRACING":
        active_tracer.cache_clear()


# Defers ------------------------------------------------------------------------------------------


def traced_defer(
    tracer: "trace.Tracer",
    insert: Callable[[str], list[int]],
    task_name: str,
    queue: str,
    document: str,
    *,
    many: bool,
    carry: bool,
) -> list[int]:
    """`insert(document)` in a defer span; `carry`: with the span's context in the document."""
    with _defer_span(tracer, task_name, queue) as span:
        ids = insert(_carrying(span, document, many) if carry else document)
        _deferred(span, ids, many)
        return ids


async def traced_defer_async(
    tracer: "trace.Tracer",
    insert: Callable[[str], Awaitable[list[int]]],
    task_name: str,
    queue: str,
    document: str,
    *,
    many: bool,
    carry: bool,
) -> list[int]:
    """`traced_defer` for an async insert."""
    with _defer_span(tracer, task_name, queue) as span:
        ids = await insert(_carrying(span, document, many) if carry else document)
        _deferred(span, ids, many)
        return ids


@contextmanager
def _defer_span(tracer: "trace.Tracer", task_name: str, queue: str) -> "Iterator[trace.Span]":
    # Current while the INSERT runs (a database instrumentation's span nests under it); an error
    # is recorded on it and ends it with status ERROR.
    with tracer.start_as_current_span(
        f"defer {task_name}",
        kind=trace.SpanKind.PRODUCER,
        attributes={TASK: task_name, QUEUE: queue},
    ) as span:
        yield span


def _deferred(span: "trace.Span", ids: list[int], many: bool) -> None:
    if many:
        span.set_attribute(JOB_COUNT, len(ids))
    elif ids:
        span.set_attribute(JOB_ID, ids[0])


def _carrying(span: "trace.Span", document: str, many: bool) -> str:
    """The document (one job's JSON object, or `many` jobs' array of them) with the span's
    `traceparent` in each job's arguments; unchanged when the span has no valid context."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    traceparent = carrier.get("traceparent")
    if traceparent is None:
        return document
    if many:
        calls = json.loads(document)
        for call in calls:
            call[TRACE_KEY] = traceparent
        return json.dumps(calls, separators=(",", ":"))
    # A traceparent is hex digits and dashes: the pair needs no escaping, and one job's object
    # needs no parsing (the key is added last, so it wins over any the arguments hold).
    head = document.rstrip()[:-1].rstrip()
    separator = "" if head.endswith("{") else ","
    return f'{head}{separator}"{TRACE_KEY}":"{traceparent}"}}'


# Runs --------------------------------------------------------------------------------------------


class RunSpan:
    """The span of one run of a job, current in the job's own asyncio task (and so in the thread
    a sync task runs in, which gets a copy of that context) until it ends."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: "trace.Span") -> None:
        self._span = span
        self._token = otel_context.attach(trace.set_span_in_context(span))

    def failed(self, error: BaseException) -> None:
        self._span.record_exception(error)
        self._span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))

    def ended(self, status: Status, retried: bool, refusal: str | None) -> None:
        """`refusal`: why the job could not run at all (an unknown task, malformed arguments)."""
        span = self._span
        span.set_attribute(OUTCOME, "retry" if retried else status.value)
        if refusal is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, refusal))
        span.end()
        otel_context.detach(self._token)


def run_span(job: Job, traceparent: object) -> RunSpan | None:
    """The span of this run of `job`, child of the defer's span whose `traceparent` the job
    carried (a root span when it carried none, or one that does not parse); None when tracing
    is off."""
    tracer = active_tracer()
    if tracer is None:
        return None
    parent = (
        _PROPAGATOR.extract({"traceparent": traceparent})
        if isinstance(traceparent, str)
        else otel_context.Context()
    )
    span = tracer.start_span(
        f"run {job.task_name}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            TASK: job.task_name,
            QUEUE: job.queue,
            JOB_ID: job.id or 0,
            ATTEMPT: job.attempts + 1,
        },
    )
    return RunSpan(span)
