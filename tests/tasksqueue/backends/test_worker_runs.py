"""Django tasks run by the real worker on PostgreSQL: results, failures, retries, scheduling,
routing, signals, another process reading the results, and retention."""

import datetime
import os

import pytest
from django.db import connection
from django.tasks import TaskResultStatus, default_task_backend, task
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.test import override_settings
from django.utils import timezone

from taiga.tasksqueue.models import JobAttempt
from taiga.tasksqueue.ops.retention import delete_finished_jobs
from taiga.tasksqueue.testing.database import EMPTY_TABLES
from tests.tasksqueue import sample_tasks
from tests.tasksqueue.backends import django_tasks
from tests.utils.processes import run_worker_once as run_worker_process

pytestmark = pytest.mark.django_db(transaction=True)


def started_order() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT job_id FROM procrastinate_events WHERE type = 'started' ORDER BY id")
        return [job_id for (job_id,) in cursor.fetchall()]


def test_sync_and_async_tasks_run_and_their_results_are_stored(run_worker_once) -> None:
    added = django_tasks.add.enqueue(2, b=3)
    doubled = django_tasks.double.enqueue(21)
    nothing = django_tasks.noop.enqueue()
    run_worker_once()
    for result, value in ((added, 5), (doubled, 42), (nothing, None)):
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.is_finished
        assert result.return_value == value
        assert result.enqueued_at is not None
        assert result.started_at is not None
        assert result.finished_at is not None
        assert result.enqueued_at <= result.started_at == result.last_attempted_at
        assert result.started_at <= result.finished_at
        assert result.attempts == 1
        assert result.worker_ids[0].isdigit()
        assert result.errors == []
    assert (added.args, added.kwargs) == ([2], {"b": 3})


def test_djangos_receivers_log_each_step(run_worker_once, caplog) -> None:
    caplog.set_level("DEBUG", logger="django.tasks")
    succeeded = django_tasks.add.enqueue(1)
    failed = django_tasks.fail.enqueue("logged")
    run_worker_once(concurrency=1)
    by_job = {
        job_id: [
            (record.levelname, record.getMessage())
            for record in caplog.records
            if record.name == "django.tasks" and f"id={job_id} " in record.getMessage()
        ]
        for job_id in (succeeded.id, failed.id)
    }
    add_path, fail_path = django_tasks.add.module_path, django_tasks.fail.module_path
    assert by_job == {
        succeeded.id: [
            ("DEBUG", f"Task id={succeeded.id} path={add_path} enqueued backend=default"),
            ("INFO", f"Task id={succeeded.id} path={add_path} state=RUNNING"),
            ("INFO", f"Task id={succeeded.id} path={add_path} state=SUCCESSFUL"),
        ],
        failed.id: [
            ("DEBUG", f"Task id={failed.id} path={fail_path} enqueued backend=default"),
            ("INFO", f"Task id={failed.id} path={fail_path} state=RUNNING"),
            ("ERROR", f"Task id={failed.id} path={fail_path} state=FAILED"),
        ],
    }
    assert not any("NoneType" in record.getMessage() for record in caplog.records)


def test_at_warning_djangos_receivers_log_only_failures(run_worker_once, caplog) -> None:
    caplog.set_level("WARNING", logger="django.tasks")
    django_tasks.add.enqueue(1)
    failed = django_tasks.fail.enqueue("only this")
    run_worker_once()
    assert [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name == "django.tasks"
    ] == [
        ("ERROR", f"Task id={failed.id} path={django_tasks.fail.module_path} state=FAILED"),
    ]


def test_a_failing_task_keeps_its_error_and_traceback(run_worker_once) -> None:
    failed = django_tasks.fail.enqueue("This task failed")
    failed_async = django_tasks.fail_async.enqueue("async failure")
    exited = django_tasks.exit_task.enqueue()
    complex_one = django_tasks.complex_exception.enqueue()
    run_worker_once()
    for result, kind, last_line in (
        (failed, ValueError, "ValueError: This task failed\n"),
        (failed_async, ValueError, "ValueError: async failure\n"),
        (exited, SystemExit, "SystemExit: 3\n"),
        (complex_one, ValueError, "ValueError: This task failed\n"),
    ):
        result.refresh()
        assert result.status == TaskResultStatus.FAILED
        assert result.finished_at is not None
        assert result.started_at is not None
        assert result.finished_at >= result.started_at
        with pytest.raises(ValueError, match=r"^Task failed$"):
            _ = result.return_value
        [error] = result.errors
        assert error.exception_class is kind
        assert error.traceback.startswith("Traceback (most recent call last):\n")
        assert error.traceback.endswith(last_line)
        assert result.attempts == 1
    assert 'raise ValueError(ValueError("This task failed"))' in complex_one.errors[0].traceback


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        (django_tasks.unstorable_return, "cannot be stored as JSON (Unsupported type"),
        (django_tasks.int_keys_return, "a dict with keys that are not strings?"),
    ],
)
def test_a_return_value_json_cannot_hold_fails_the_task(run_worker_once, task, reason) -> None:
    result = task.enqueue()
    run_worker_once()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    [error] = result.errors
    assert error.exception_class is TypeError
    assert f"TypeError: Task '{task.module_path}' returned a value that " in error.traceback
    assert reason in error.traceback
    assert result._return_value is None


def test_a_retried_task_counts_its_attempts_in_its_context_and_result(run_worker_once) -> None:
    result = django_tasks.flaky.enqueue()
    retried_async = django_tasks.flaky_async.enqueue()
    run_worker_once()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    # The third run saw three workers' ids in its context: two earlier runs and its own.
    assert result.return_value == {"attempt": 3, "workers": 3}
    assert result.attempts == 3
    assert [error.exception_class for error in result.errors] == [RuntimeError, RuntimeError]
    assert "RuntimeError: attempt 1 fails" in result.errors[0].traceback
    assert "RuntimeError: attempt 2 fails" in result.errors[1].traceback
    retried_async.refresh()
    assert (retried_async.status, retried_async.return_value) == (TaskResultStatus.SUCCESSFUL, 2)
    assert list(
        JobAttempt.objects.filter(job_id=int(result.id)).values_list("attempt", "outcome")
    ) == [(1, "failed"), (2, "failed"), (3, "succeeded")]


def test_a_task_that_takes_its_context_gets_its_result(run_worker_once) -> None:
    result = django_tasks.with_context.enqueue("v")
    run_worker_once()
    result.refresh()
    assert result.return_value == {"attempt": 1, "id": result.id, "value": "v"}


def test_a_running_task_reads_as_running(run_worker_once) -> None:
    result = django_tasks.observe_itself.enqueue()
    run_worker_once()
    result.refresh()
    assert result.return_value == {
        "status": "RUNNING",
        "worker_ids": result.worker_ids,
        "started": True,
        "finished": False,
    }
    assert len(result.worker_ids) == 1


def test_run_after_holds_the_task_until_then(run_worker_once) -> None:
    later = django_tasks.noop.using(run_after=timezone.now() + datetime.timedelta(hours=1))
    waiting = later.enqueue()
    due = django_tasks.noop.using(
        run_after=timezone.now() - datetime.timedelta(seconds=1)
    ).enqueue()
    run_worker_once()
    waiting.refresh()
    due.refresh()
    assert waiting.status == TaskResultStatus.READY
    assert waiting.task.run_after == later.run_after
    assert due.status == TaskResultStatus.SUCCESSFUL


def test_higher_priorities_run_first(run_worker_once) -> None:
    ids = [
        django_tasks.noop.using(priority=priority).enqueue().id
        for priority in (-5, 50, 0, 100, -100)
    ]
    run_worker_once(concurrency=1)
    by_priority = [ids[3], ids[1], ids[2], ids[0], ids[4]]
    assert [str(job_id) for job_id in started_order()] == by_priority


def test_a_worker_runs_only_the_queues_it_listens_to(run_worker_once) -> None:
    report = django_tasks.report.enqueue("sales")
    other = django_tasks.noop.enqueue()
    run_worker_once(queues=["reports"])
    report.refresh()
    other.refresh()
    assert (report.status, report.return_value) == (TaskResultStatus.SUCCESSFUL, "report sales")
    assert (report.task.queue_name, report.task.priority) == ("reports", 10)
    assert other.status == TaskResultStatus.READY


def test_the_three_signals_carry_the_result(run_worker_once) -> None:
    seen: list[tuple[str, str, TaskResultStatus, object]] = []

    def on_enqueued(sender, task_result, **kwargs):
        seen.append(("enqueued", task_result.id, task_result.status, sender))

    def on_started(sender, task_result, **kwargs):
        seen.append(("started", task_result.id, task_result.status, task_result.attempts))

    def on_finished(sender, task_result, **kwargs):
        # Sent once the outcome is stored: what a receiver reads back agrees with the signal.
        stored = default_task_backend.get_result(task_result.id)
        seen.append(("finished", task_result.id, task_result.status, stored.status))

    task_enqueued.connect(on_enqueued)
    task_started.connect(on_started)
    task_finished.connect(on_finished)
    try:
        succeeded = django_tasks.add.enqueue(1)
        failed = django_tasks.fail.enqueue("no")
        async_one = django_tasks.double.enqueue(1)
        run_worker_once(concurrency=1)
    finally:
        task_enqueued.disconnect(on_enqueued)
        task_started.disconnect(on_started)
        task_finished.disconnect(on_finished)
    backend_class = type(django_tasks.add.get_backend())
    ready, running = TaskResultStatus.READY, TaskResultStatus.RUNNING
    ok, ko = TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED
    # Each job's three signals come in order; the next job may start before one's outcome is
    # stored, since recording it no longer holds the worker's slot.
    by_job = {
        job_id: [entry for entry in seen if entry[1] == job_id]
        for job_id in (succeeded.id, failed.id, async_one.id)
    }
    assert len(seen) == 9
    assert by_job == {
        succeeded.id: [
            ("enqueued", succeeded.id, ready, backend_class),
            ("started", succeeded.id, running, 1),
            ("finished", succeeded.id, ok, ok),
        ],
        failed.id: [
            ("enqueued", failed.id, ready, backend_class),
            ("started", failed.id, running, 1),
            ("finished", failed.id, ko, ko),
        ],
        async_one.id: [
            ("enqueued", async_one.id, ready, backend_class),
            ("started", async_one.id, running, 1),
            ("finished", async_one.id, ok, ok),
        ],
    }


def test_a_retried_run_ends_ready_in_task_finished(run_worker_once) -> None:
    statuses: list[tuple[TaskResultStatus, int]] = []

    def on_finished(sender, task_result, **kwargs):
        statuses.append((task_result.status, len(task_result.errors)))

    task_finished.connect(on_finished)
    try:
        django_tasks.flaky.enqueue()
        run_worker_once()
    finally:
        task_finished.disconnect(on_finished)
    ready, ok = TaskResultStatus.READY, TaskResultStatus.SUCCESSFUL
    assert statuses == [(ready, 1), (ready, 2), (ok, 2)]


def test_results_written_by_a_worker_process_are_read_by_another() -> None:
    results = [django_tasks.add.enqueue(n, b=n) for n in range(3)]
    failed = django_tasks.fail.enqueue("elsewhere")
    worker = run_worker_process("tests.tasksqueue.backends.django_tasks")
    assert worker.returncode == 0, worker.stderr
    assert [result.task.get_result(result.id).return_value for result in results] == [0, 2, 4]
    failed.refresh()
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[0].traceback.endswith("ValueError: elsewhere\n")
    assert failed.worker_ids[0] != str(os.getpid())


def test_runs_of_project_tasks_keep_a_record_only_when_they_fail(run_worker_once) -> None:
    ok = sample_tasks.add.defer_sync(1, 2)
    failing = django_tasks.plain_fail.defer_sync("lost")
    run_worker_once()
    assert not JobAttempt.objects.filter(job_id=ok).exists()
    [record] = JobAttempt.objects.filter(job_id=failing)
    assert (record.attempt, record.outcome, record.error_class) == (
        1,
        "failed",
        "builtins.LookupError",
    )
    assert record.traceback.endswith("LookupError: lost\n")
    assert record.return_value is None


def test_retention_deletes_results_with_their_jobs(run_worker_once) -> None:
    done = django_tasks.fail.enqueue("old")
    run_worker_once()
    assert JobAttempt.objects.filter(job_id=int(done.id)).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_events SET at = at - interval '40 days'")
    assert delete_finished_jobs(succeeded_days=1, failed_days=30, batch_size=10) == 1
    assert not JobAttempt.objects.exists()
    with pytest.raises(TaskResultDoesNotExist):
        done.refresh()


def test_async_receivers_are_awaited_for_both_kinds_of_task(run_worker_once) -> None:
    seen: list[tuple[str, str]] = []

    async def on_started(sender, task_result, **kwargs):
        seen.append(("started", task_result.id))

    async def on_finished(sender, task_result, **kwargs):
        seen.append(("finished", task_result.id))

    task_started.connect(on_started)
    task_finished.connect(on_finished)
    try:
        sync_one = django_tasks.add.enqueue(1)
        async_one = django_tasks.double.enqueue(1)
        run_worker_once(concurrency=1)
    finally:
        task_started.disconnect(on_started)
        task_finished.disconnect(on_finished)
    assert sorted(seen) == sorted(
        [
            ("started", sync_one.id),
            ("finished", sync_one.id),
            ("started", async_one.id),
            ("finished", async_one.id),
        ]
    )


def fails_every_time() -> None:
    raise RuntimeError("again")


@override_settings(
    TASKS={
        "default": {
            "BACKEND": "taiga.tasksqueue.backends.TasksQueueBackend",
            "QUEUES": [],
            "OPTIONS": {"retry": 2},
        }
    }
)
def test_the_retry_option_is_the_default_of_tasks_without_their_own(run_worker_once) -> None:
    # Registered here, under these OPTIONS (a task takes the default when first registered).
    retried = task(fails_every_time)
    result = retried.enqueue()
    run_worker_once()
    result.refresh()
    assert (result.status, result.attempts, len(result.errors)) == (TaskResultStatus.FAILED, 3, 3)


def test_emptying_the_jobs_empties_the_records(run_worker_once) -> None:
    django_tasks.fail.enqueue("recorded")
    run_worker_once()
    assert JobAttempt.objects.count() == 1
    with connection.cursor() as cursor:
        cursor.execute(EMPTY_TABLES)  # the test toolkit's: job ids start again at 1
    assert not JobAttempt.objects.exists()
