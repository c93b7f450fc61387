"""What PostgreSQL cannot store is refused at defer time, before any SQL, with an error naming the
task, the argument or option, and the limit; the caller's transaction stays usable."""

import asyncio
import gc
import logging

import pytest
from django.db import connection, transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue import ArgumentNotSerializable, InvalidJobOptions, InvalidTaskDefinition
from taiga.tasksqueue.manager import manager as tqmanager
from tests.tasksqueue.sample_tasks import add, double

pytestmark = pytest.mark.django_db

ADD = "tests.tasksqueue.sample_tasks.add"


def transaction_still_usable() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


@pytest.mark.parametrize(
    "value", ["a\x00b", {"key": ["\ud800"]}, {"nul\x00key": 1}], ids=["nul", "surrogate", "key"]
)
def test_text_postgresql_cannot_store_is_refused_naming_the_argument(value):
    with transaction.atomic():
        with pytest.raises(ArgumentNotSerializable) as raised:
            add.defer_sync(value, 1)
        assert transaction_still_usable()

    assert str(raised.value) == (
        f"Task {ADD!r}: argument 'a' holds a NUL character or a lone surrogate, which PostgreSQL "
        "cannot store. Remove it (or encode the data, e.g. as base64) before deferring."
    )
    assert not ProcrastinateJob.objects.exists()


def test_characters_beyond_the_bmp_and_backslashes_are_stored_as_given():
    job_id = add.defer_sync("snow ☃, face 😀, \\u0000 as text", 1)  # type: ignore[arg-type]

    assert ProcrastinateJob.objects.get(id=job_id).args == {
        "a": "snow ☃, face 😀, \\u0000 as text",
        "b": 1,
    }


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"queue": "q" * 41}, f"queue {'q' * 41!r} is over 40 bytes, the longest name"),
        ({"queue": "é" * 21}, "is over 40 bytes"),
        ({"queue": ""}, "queue must be a non-empty string, got ''"),
        ({"priority": "5"}, "priority must be a whole number, got '5'"),
        ({"priority": True}, "priority must be a whole number, got True"),
        ({"priority": 2**31}, "priority must be between -2147483648 and 2147483647"),
        ({"lock": "a\x00b"}, "lock 'a\\x00b' holds a NUL character or a lone surrogate"),
        ({"queueing_lock": 7}, "queueing_lock must be a string or None, got 7"),
    ],
)
def test_options_postgresql_would_refuse_are_refused_at_configure(options, problem):
    with transaction.atomic():
        with pytest.raises(InvalidJobOptions) as raised:
            add.configure(**options).defer_sync(1)
        assert transaction_still_usable()

    assert str(raised.value).startswith(f"Task {ADD!r}: ")
    assert problem in str(raised.value)
    assert not ProcrastinateJob.objects.exists()


def test_the_longest_queue_name_is_stored_and_notified():
    job_id = add.configure(queue="q" * 40).defer_sync(1)

    assert ProcrastinateJob.objects.get(id=job_id).queue_name == "q" * 40


@pytest.mark.parametrize(
    ("name", "queue", "message"),
    [
        ("tests.long_queue", "q" * 41, "Task 'tests.long_queue': queue"),
        ("n" * 129, "default", f"Task name {'n' * 129!r} must be 1 to 128 characters"),
    ],
    ids=["queue", "name"],
)
def test_a_task_defined_with_options_postgresql_would_refuse_is_not_registered(
    name, queue, message
):
    with pytest.raises(InvalidTaskDefinition) as raised:

        @tqmanager.task(name=name, queue=queue)
        def long_queue() -> None:
            pass

    assert str(raised.value).startswith(message)
    assert name not in tqmanager.app.tasks
    assert name not in tqmanager.tasks


def test_defer_called_from_sync_code_without_await_logs_an_error_and_defers_nothing(caplog):
    with caplog.at_level(logging.ERROR, logger="taiga.tasksqueue"):
        add.defer(1, 2)  # the slip: no await
        gc.collect()

    assert [record.getMessage() for record in caplog.records] == [
        f"Task {ADD!r}: defer() was called without `await`, so no job was deferred; write "
        "`await add.defer(...)` in async code, or `add.defer_sync(...)` in sync code."
    ]
    assert not ProcrastinateJob.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_an_awaited_defer_or_one_handed_to_create_task_logs_nothing(caplog):
    with caplog.at_level(logging.ERROR, logger="taiga.tasksqueue"):
        first = await double.defer(1)
        second = await asyncio.create_task(double.defer(2))
        [third] = await asyncio.gather(double.defer_many([(3,)]))

    assert caplog.records == []
    assert third == [second + 1] == [first + 2]


def test_configure_names_the_options_it_takes_when_given_another():
    with pytest.raises(TypeError) as raised:
        add.configure(queu="reports")  # type: ignore[call-arg]

    assert str(raised.value) == (
        f"Task {ADD!r}: configure() takes queue, priority, lock, queueing_lock, schedule_at, "
        "schedule_in, not queu."
    )
