"""Deferring jobs: arguments, options and transactions, checked on the rows in PostgreSQL."""

import datetime

import psycopg
import pytest
from django import db as django_db
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from procrastinate import exceptions
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

from taiga.tasksqueue import RetryStrategy, SyncDeferInAsyncContext
from taiga.tasksqueue.manager import manager as tqmanager
from tests.tasksqueue import sample_tasks
from tests.tasksqueue.sample_tasks import add, configured, double, with_context, with_extra

pytestmark = pytest.mark.django_db


def job(job_id: int) -> ProcrastinateJob:
    row: ProcrastinateJob = ProcrastinateJob.objects.get(id=job_id)
    return row


def test_defer_sync_binds_positional_arguments_to_parameter_names():
    job_id = add.defer_sync(1, 2)

    row = job(job_id)
    assert row.args == {"a": 1, "b": 2}
    assert row.task_name == "tests.tasksqueue.sample_tasks.add"
    assert row.queue_name == "default"
    assert row.status == "todo"


def test_defer_sync_mixes_positional_and_keyword_arguments_and_keeps_defaults_for_the_worker():
    assert job(add.defer_sync(1, b=5)).args == {"a": 1, "b": 5}
    # An omitted argument is left to the function's default when the job runs.
    assert job(add.defer_sync(a=7)).args == {"a": 7}


@pytest.mark.parametrize(
    ("args", "kwargs", "problem"),
    [
        ((1, 2, 3), {}, "too many positional arguments"),
        ((), {}, "missing a required argument: 'a'"),
        ((1,), {"c": 3}, "got an unexpected keyword argument 'c'"),
        ((1,), {"a": 2}, "multiple values for argument 'a'"),
    ],
)
def test_arguments_that_do_not_fit_the_signature_raise_type_error_naming_the_task(
    args, kwargs, problem
):
    with pytest.raises(TypeError) as excinfo:
        add.defer_sync(*args, **kwargs)

    assert str(excinfo.value) == (
        "Task 'tests.tasksqueue.sample_tasks.add' cannot be deferred with these arguments: "
        f"{problem} (its parameters are (a: int, b: int = 0))."
    )
    assert not ProcrastinateJob.objects.exists()


def test_extra_keyword_arguments_are_stored_flat():
    assert job(with_extra.defer_sync(1, colour="red")).args == {"first": 1, "colour": "red"}


def test_pass_context_task_is_deferred_without_the_context_argument():
    assert job(with_context.defer_sync("x")).args == {"value": "x"}


def test_task_options_are_passed_through_to_procrastinate():
    row = job(configured.defer_sync(12))

    assert configured.name == "tests.custom_name"
    assert (row.task_name, row.queue_name, row.priority) == ("tests.custom_name", "reports", 5)
    assert (row.lock, row.queueing_lock) == ("report-lock", "report-queueing-lock")
    procrastinate_task = configured.procrastinate_task
    assert isinstance(procrastinate_task.retry_strategy, RetryStrategy)
    assert procrastinate_task.retry_strategy.max_attempts == 3
    assert tqmanager.app.tasks["tests.old_name"] is procrastinate_task
    assert with_context.procrastinate_task.pass_context is True


def test_configure_overrides_the_task_defaults():
    when = timezone.now() + datetime.timedelta(hours=1)
    deferrer = configured.configure(
        queue="urgent", priority=-1, lock="other", queueing_lock=None, schedule_at=when
    )
    row = job(deferrer.defer_sync(report_id=3))

    assert (row.queue_name, row.priority, row.lock) == ("urgent", -1, "other")
    assert row.queueing_lock == "report-queueing-lock"  # unset options keep the task's default
    assert row.scheduled_at == when
    assert row.args == {"report_id": 3}


@pytest.mark.parametrize("schedule_in", [datetime.timedelta(minutes=5), {"minutes": 5}])
def test_schedule_in_accepts_a_timedelta_or_timedelta_arguments(schedule_in):
    before = timezone.now()
    row = job(add.configure(schedule_in=schedule_in).defer_sync(1))

    assert row.scheduled_at is not None
    delay = row.scheduled_at - before
    assert datetime.timedelta(minutes=5) <= delay < datetime.timedelta(minutes=6)


def test_configure_refuses_contradictory_or_naive_schedules():
    with pytest.raises(ValueError, match="give schedule_at or schedule_in, not both"):
        add.configure(schedule_at=timezone.now(), schedule_in={"seconds": 1})
    with pytest.raises(ValueError, match="schedule_at must be timezone-aware"):
        add.configure(schedule_at=datetime.datetime(2030, 1, 1))


def test_defer_many_sync_inserts_all_jobs_in_one_statement():
    with CaptureQueriesContext(connection) as queries:
        ids = add.defer_many_sync([(1, 2), {"a": 3}, (4,)])

    # Inside the test's transaction, one more statement ends the batch's mark (test_batch_events).
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["WITH", "SELECT"]
    assert [job(job_id).args for job_id in ids] == [{"a": 1, "b": 2}, {"a": 3}, {"a": 4}]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_defer_many_sync_is_one_statement():
    with CaptureQueriesContext(connection) as queries:
        add.defer_many_sync([(1,), (2,)])

    assert len(queries.captured_queries) == 1


def test_defer_many_validates_every_item_before_inserting_any():
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        add.defer_many_sync([(1,), {}])
    with pytest.raises(TypeError, match="takes dicts of keyword arguments or tuples"):
        add.defer_many_sync([[1, 2]])  # type: ignore[list-item]
    assert add.defer_many_sync([]) == []
    assert not ProcrastinateJob.objects.exists()


def test_defer_many_gives_every_job_the_options_and_keeps_the_order():
    when = timezone.now() + datetime.timedelta(days=1)
    bulk = add.configure(queue="bulk", priority=3, lock="L", schedule_at=when)

    ids = bulk.defer_many_sync([(n,) for n in range(5)])

    rows = [job(job_id) for job_id in ids]
    assert [row.args for row in rows] == [{"a": n} for n in range(5)]
    assert {
        (row.task_name, row.queue_name, row.priority, row.lock, row.scheduled_at, row.status)
        for row in rows
    } == {(add.name, "bulk", 3, "L", when, "todo")}
    # Procrastinate's triggers ran: one "deferred" event per job.
    assert sorted(
        ProcrastinateEvent.objects.filter(type="deferred").values_list("job_id", flat=True)
    ) == sorted(ids)


@pytest.mark.django_db(transaction=True)
def test_defer_many_with_a_queueing_lock_taken_raises_already_enqueued_and_writes_nothing():
    configured.defer_sync(1)  # its task's queueing lock is "report-queueing-lock"

    with pytest.raises(exceptions.AlreadyEnqueued, match="queueing lock report-queueing-lock"):
        configured.configure(lock=None).defer_many_sync([(2,), (3,)])

    assert ProcrastinateJob.objects.count() == 1


def test_a_database_error_while_deferring_is_procrastinates_connector_exception():
    with transaction.atomic():
        with connection.cursor() as cursor, pytest.raises(django_db.DataError):
            cursor.execute("SELECT 1 / 0")  # the transaction is aborted from here on
        with pytest.raises(exceptions.ConnectorException) as raised:
            add.defer_sync(1)
        transaction.set_rollback(True)

    assert isinstance(raised.value.__cause__, psycopg.errors.InFailedSqlTransaction)


@pytest.mark.django_db(transaction=True)
def test_defer_many_inside_a_rolled_back_transaction_leaves_no_job_and_no_event():
    def defer_then_fail() -> None:
        with transaction.atomic():
            add.defer_many_sync([(1,), (2,)])
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        defer_then_fail()

    assert not ProcrastinateJob.objects.exists()
    assert not ProcrastinateEvent.objects.exists()  # the batch writes its events itself


def test_calling_the_task_runs_the_function_inline():
    assert add(2, 3) == 5
    assert repr(add) == "<Task tests.tasksqueue.sample_tasks.add>"
    assert add.__doc__ == sample_tasks.add.func.__doc__


@pytest.mark.django_db(transaction=True)
def test_a_defer_inside_a_rolled_back_transaction_leaves_no_job():
    def defer_then_fail() -> None:
        with transaction.atomic():
            add.defer_sync(1, 2)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        defer_then_fail()

    assert not ProcrastinateJob.objects.exists()

    with transaction.atomic():
        job_id = add.defer_sync(1, 2)
    assert job(job_id).status == "todo"


@pytest.mark.django_db(transaction=True)
async def test_defer_from_async_code_returns_the_job_id():
    job_id = await double.defer(21)
    ids = await double.defer_many([(1,), {"value": 2}])
    configured_id = await double.configure(queue="async").defer(value=3)

    rows = [row async for row in ProcrastinateJob.objects.order_by("id")]
    assert [row.id for row in rows] == [job_id, *ids, configured_id]
    assert [row.args for row in rows] == [{"value": 21}, {"value": 1}, {"value": 2}, {"value": 3}]
    assert rows[-1].queue_name == "async"


async def test_defer_sync_from_async_code_says_to_await_defer():
    with pytest.raises(SyncDeferInAsyncContext) as excinfo:
        double.defer_sync(1)

    assert str(excinfo.value) == (
        "Task 'tests.tasksqueue.sample_tasks.double': defer_sync() was called from async code, "
        "where it would block the event loop; use `await double.defer(...)` instead."
    )
