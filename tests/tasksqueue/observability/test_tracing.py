"""Tracing with OpenTelemetry: a span per defer and per job run, in one trace, on PostgreSQL and a
real worker; the trace context rides in the job's arguments and no task ever sees it."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue import RetryStrategy
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.observability.tracing import TRACE_KEY, active_tracer
from taiga.tasksqueue.worker.options import WorkerOptions
from taiga.tasksqueue.worker.run import run_worker
from tests.tasksqueue import sample_tasks
from tests.tasksqueue.backends import django_tasks
from tests.utils.processes import database_url, manage, run_python

pytestmark = pytest.mark.django_db(transaction=True)

received: list[dict[str, Any]] = []


@manager.task
def remember(label: str, **extra: Any) -> None:
    # Every keyword the job holds reaches `extra`: a trace key left in would show here.
    received.append({"label": label, **extra})


@manager.task
async def remember_async(label: str, **extra: Any) -> None:
    received.append({"label": label, **extra})


@manager.task(retry=RetryStrategy(max_attempts=1))
def always_fails(label: str) -> None:
    raise ValueError(f"no luck for {label}")


def use_provider(provider: trace.TracerProvider | None) -> None:
    """Set (or, with None, remove) the global tracer provider, which OpenTelemetry lets a process
    set only once: as its own test utilities do (`reset_trace_globals`)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    if provider is not None:
        trace.set_tracer_provider(provider)
    active_tracer.cache_clear()  # the tracer is looked up again at the next defer or job


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """A tracer provider of OpenTelemetry's SDK for this test, keeping the spans in memory; no
    provider before or after it, so that no other test's jobs are traced."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_provider(provider)
    try:
        yield exporter
    finally:
        use_provider(None)
        provider.shutdown()


@pytest.fixture(autouse=True)
def _fresh_records() -> None:
    received.clear()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def the_span(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    [span] = named(exporter, name)
    return span


def traceparent(span: ReadableSpan) -> str:
    assert span.context is not None
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def stored_args(job_id: int) -> dict[str, Any]:
    args: dict[str, Any] = ProcrastinateJob.objects.get(id=job_id).args
    return args


def assert_child_of(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.context is not None
    assert parent.context is not None
    assert child.parent is not None
    assert (child.parent.trace_id, child.parent.span_id) == (
        parent.context.trace_id,
        parent.context.span_id,
    )
    assert child.context.trace_id == parent.context.trace_id


def test_a_traced_defer_and_its_run_share_one_trace_and_the_task_gets_its_own_arguments(
    spans, run_worker_once
) -> None:
    with trace.get_tracer("tests").start_as_current_span("request") as request:
        job_id = remember.defer_sync("a", colour="blue")

    defer = the_span(spans, f"defer {remember.name}")
    assert stored_args(job_id) == {"label": "a", "colour": "blue", TRACE_KEY: traceparent(defer)}

    run_worker_once()

    assert received == [{"label": "a", "colour": "blue"}]
    run = the_span(spans, f"run {remember.name}")
    assert defer.parent is not None
    assert defer.parent.span_id == request.get_span_context().span_id
    assert_child_of(run, defer)
    assert (defer.kind, run.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert attrs(defer) == {
        "tasksqueue.task": remember.name,
        "tasksqueue.queue": "default",
        "tasksqueue.job_id": job_id,
    }
    assert attrs(run) == {
        "tasksqueue.task": remember.name,
        "tasksqueue.queue": "default",
        "tasksqueue.job_id": job_id,
        "tasksqueue.attempt": 1,
        "tasksqueue.outcome": "succeeded",
    }
    assert run.status.status_code == StatusCode.UNSET


async def test_async_defers_and_async_tasks_are_traced_the_same_way(spans) -> None:
    with trace.get_tracer("tests").start_as_current_span("request"):
        job_id = await remember_async.defer("one")
        batch_ids = await remember_async.defer_many([("two",), {"label": "three", "n": 3}])

    await run_worker(WorkerOptions(one_shot=True, install_signal_handlers=False))

    assert sorted(received, key=str) == sorted(
        [{"label": "one"}, {"label": "two"}, {"label": "three", "n": 3}], key=str
    )
    single, batch = named(spans, f"defer {remember_async.name}")
    assert attrs(single)["tasksqueue.job_id"] == job_id
    assert attrs(batch)["tasksqueue.job_count"] == 2
    runs = {
        attrs(span)["tasksqueue.job_id"]: span
        for span in named(spans, f"run {remember_async.name}")
    }
    assert sorted(runs) == sorted([job_id, *batch_ids])
    assert_child_of(runs[job_id], single)
    for batch_id in batch_ids:
        assert_child_of(runs[batch_id], batch)


def test_defer_many_is_one_span_whose_context_every_job_carries(spans, run_worker_once) -> None:
    job_ids = remember.defer_many_sync([("x",), {"label": "y", "size": 2}, ("z",)])

    batch = the_span(spans, f"defer {remember.name}")
    assert batch.parent is None  # no request around it: the defer starts the trace
    assert attrs(batch)["tasksqueue.job_count"] == 3
    assert [stored_args(job_id) for job_id in job_ids] == [
        {"label": "x", TRACE_KEY: traceparent(batch)},
        {"label": "y", "size": 2, TRACE_KEY: traceparent(batch)},
        {"label": "z", TRACE_KEY: traceparent(batch)},
    ]

    run_worker_once(concurrency=1)

    assert received == [{"label": "x"}, {"label": "y", "size": 2}, {"label": "z"}]
    runs = named(spans, f"run {remember.name}")
    assert len(runs) == 3
    for run in runs:
        assert_child_of(run, batch)


async def test_django_tasks_enqueued_sync_and_async_are_traced_and_get_their_arguments(
    spans,
) -> None:
    with trace.get_tracer("tests").start_as_current_span("request"):
        enqueued = await sync_to_async(django_tasks.echo.enqueue)(1, "two", key="value")
        aenqueued = await django_tasks.echo.aenqueue(3, other=[4])
        doubled = await django_tasks.double.aenqueue(21)  # an async task

    await run_worker(WorkerOptions(one_shot=True, install_signal_handlers=False))

    for result in (enqueued, aenqueued, doubled):
        await result.arefresh()
    assert enqueued.return_value == {"args": [1, "two"], "kwargs": {"key": "value"}}
    assert aenqueued.return_value == {"args": [3], "kwargs": {"other": [4]}}
    assert (enqueued.args, enqueued.kwargs) == ([1, "two"], {"key": "value"})
    stored: Any = doubled.return_value  # the stubs type an async task's as its coroutine
    assert stored == 42
    for task, results in (
        (django_tasks.echo, [enqueued, aenqueued]),
        (django_tasks.double, [doubled]),
    ):
        name = task.module_path
        defers = {attrs(span)["tasksqueue.job_id"]: span for span in named(spans, f"defer {name}")}
        runs = {attrs(span)["tasksqueue.job_id"]: span for span in named(spans, f"run {name}")}
        assert sorted(defers) == sorted(runs) == sorted(int(result.id) for result in results)
        for job_id, run in runs.items():
            assert_child_of(run, defers[job_id])


def test_a_failing_jobs_runs_record_the_error_and_their_outcome(spans, run_worker_once) -> None:
    job_id = always_fails.defer_sync("me")

    run_worker_once()

    defer = the_span(spans, f"defer {always_fails.name}")
    runs = sorted(
        named(spans, f"run {always_fails.name}"),
        key=lambda span: attrs(span)["tasksqueue.attempt"],
    )
    assert [
        (attrs(run)["tasksqueue.attempt"], attrs(run)["tasksqueue.outcome"]) for run in runs
    ] == [(1, "retry"), (2, "failed")]
    for run in runs:
        assert_child_of(run, defer)
        assert run.status.status_code == StatusCode.ERROR
        assert run.status.description == "ValueError"
        [event] = run.events
        assert event.name == "exception"
        assert event.attributes is not None
        assert event.attributes["exception.type"] == "ValueError"
        assert event.attributes["exception.message"] == "no luck for me"
    assert ProcrastinateJob.objects.get(id=job_id).status == "failed"


def test_with_tracing_off_no_span_is_made_and_the_arguments_carry_no_trace_key(
    spans, run_worker_once
) -> None:
    with override_settings(TASKSQUEUE_TRACING=False):
        with trace.get_tracer("tests").start_as_current_span("request"):
            job_id = remember.defer_sync("plain")
            [batch_id] = remember.defer_many_sync([("batch",)])
        assert stored_args(job_id) == {"label": "plain"}
        assert stored_args(batch_id) == {"label": "batch"}
        run_worker_once(concurrency=1)

    assert received == [{"label": "plain"}, {"label": "batch"}]
    assert [span.name for span in spans.get_finished_spans()] == ["request"]


def test_without_a_tracer_provider_the_arguments_carry_no_trace_key(run_worker_once) -> None:
    job_id = remember.defer_sync("unset")

    assert stored_args(job_id) == {"label": "unset"}


def test_a_job_whose_trace_key_does_not_parse_runs_in_a_trace_of_its_own(
    spans, run_worker_once
) -> None:
    with override_settings(TASKSQUEUE_TRACING=False):
        job_id = remember.defer_sync("odd")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET args = args || jsonb_build_object(%s, 'garbage') "
            "WHERE id = %s",
            [TRACE_KEY, job_id],
        )

    run_worker_once()

    assert received == [{"label": "odd"}]
    run = the_span(spans, f"run {remember.name}")
    assert run.parent is None


def test_the_test_toolkits_in_memory_queue_keeps_the_tasks_arguments(spans, tqmanager) -> None:
    remember.defer_sync("in memory")

    [job] = tqmanager.pending_jobs
    assert job["args"] == {"label": "in memory"}
    tqmanager.run_pending_jobs_sync()
    assert received == [{"label": "in memory"}]


@pytest.mark.tasksqueue_db
def test_the_dashboard_and_the_test_toolkit_show_a_traced_jobs_own_arguments(
    spans, tqmanager, admin_client
) -> None:
    job_id = remember.defer_sync("shown", colour="red")
    defer = the_span(spans, f"defer {remember.name}")
    assert stored_args(job_id)[TRACE_KEY] == traceparent(defer)

    assert tqmanager.pending_jobs[0]["args"] == {"label": "shown", "colour": "red"}
    page = admin_client.get(f"/admin/tasksqueue/job/{job_id}/change/")
    assert page.status_code == 200
    assert page.context["arguments"] == '{\n  "colour": "red",\n  "label": "shown"\n}'
    assert page.context["traceparent"] == traceparent(defer)
    assert f'<td id="job-trace"><code>{traceparent(defer)}</code></td>' in page.content.decode()


# Processes without OpenTelemetry: a package of that name on PYTHONPATH that refuses to import
# hides the installed one (a regular package comes before namespace packages).


@pytest.fixture
def without_opentelemetry(tmp_path: Path) -> dict[str, str]:
    package = tmp_path / "opentelemetry"
    package.mkdir()
    (package / "__init__.py").write_text('raise ImportError("hidden for the test")\n')
    env = {"PYTHONPATH": str(tmp_path), "DATABASE_URL": database_url()}
    assert run_python("-c", "import opentelemetry.trace", env=env).returncode == 1
    return env


def test_a_job_deferred_with_tracing_runs_on_a_worker_without_opentelemetry(
    spans, without_opentelemetry
) -> None:
    job_id = sample_tasks.add.defer_sync(2, b=3)
    assert TRACE_KEY in stored_args(job_id)

    process = manage(
        "tasksqueue",
        "worker",
        "--one-shot",
        env={**without_opentelemetry, "TASKS_MODULES_PATHS": "tests.tasksqueue.sample_tasks"},
    )

    assert process.returncode == 0, process.stderr
    # `add(a, b)` takes no other keyword: the job succeeded only because the key was taken out.
    assert ProcrastinateJob.objects.get(id=job_id).status == "succeeded"


def test_a_job_deferred_without_opentelemetry_runs_traced_in_a_trace_of_its_own(
    spans, without_opentelemetry, run_worker_once
) -> None:
    process = manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from tests.tasksqueue.sample_tasks import add; print(add.defer_sync(4, b=5))",
        env=without_opentelemetry,
    )
    assert process.returncode == 0, process.stderr
    job_id = int(process.stdout.strip())
    assert stored_args(job_id) == {"a": 4, "b": 5}

    run_worker_once()

    assert ProcrastinateJob.objects.get(id=job_id).status == "succeeded"
    run = the_span(spans, f"run {sample_tasks.add.name}")
    assert run.parent is None
    assert attrs(run)["tasksqueue.outcome"] == "succeeded"
