"""Django's `django.tasks` contract, as its own tests check it on its backends, against ours.

docs/django-tasks.md maps each of Django's test cases to the tests here and in the other modules
of this folder. These tests need no worker: what a process sees when it enqueues and reads back.
"""

import dataclasses
import datetime
import pickle

import pytest
from django.core import checks
from django.db import connection
from django.tasks import (
    TaskResultStatus,
    default_task_backend,
    task,
    task_backends,
)
from django.tasks.exceptions import (
    InvalidTask,
    InvalidTaskBackend,
    TaskResultDoesNotExist,
    TaskResultMismatch,
)
from django.test import override_settings
from django.utils import timezone

from taiga.tasksqueue import ArgumentNotSerializable, ArgumentsTooLarge
from taiga.tasksqueue.backends import QueueTask, TasksQueueBackend
from tests.tasksqueue import sample_tasks
from tests.tasksqueue.backends import django_tasks

BACKEND = "taiga.tasksqueue.backends.TasksQueueBackend"


def job_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs")
        return int(cursor.fetchone()[0])


def test_the_default_backend_is_ours_with_every_capability() -> None:
    backend = task_backends["default"]
    assert isinstance(backend, TasksQueueBackend)
    assert backend.alias == "default"
    assert backend.options == {}
    assert (
        backend.supports_defer,
        backend.supports_async_task,
        backend.supports_get_result,
        backend.supports_priority,
    ) == (True, True, True, True)
    assert backend.check() == []


@override_settings(TASKS={"default": {"BACKEND": BACKEND}})
def test_queues_default_to_djangos_default_queue() -> None:
    assert task_backends["default"].queues == {"default"}
    with pytest.raises(InvalidTask, match=r"^Queue 'other' is not valid for backend\.$"):
        django_tasks.noop.using(queue_name="other")


def test_the_decorator_makes_our_task_class() -> None:
    assert isinstance(django_tasks.noop, QueueTask)
    assert isinstance(django_tasks.double, QueueTask)
    assert django_tasks.noop.name == "noop"
    assert django_tasks.noop.module_path == "tests.tasksqueue.backends.django_tasks.noop"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"priority": -101}, "priority must be a whole number between -100 and 100."),
        ({"priority": 101}, "priority must be a whole number between -100 and 100."),
        ({"priority": 3.1}, "priority must be a whole number between -100 and 100."),
        (
            {"run_after": datetime.datetime(2030, 1, 1)},  # naive on purpose
            "run_after must be an aware datetime.",
        ),
        (
            {"queue_name": "q" * 41},
            "Task 'tests.tasksqueue.backends.django_tasks.noop': queue '"
            + "q" * 41
            + "' is over 40 bytes, the longest name PostgreSQL can notify workers of.",
        ),
    ],
)
def test_invalid_options_are_refused_with_djangos_error(change, message) -> None:
    with pytest.raises(InvalidTask) as caught:
        django_tasks.noop.using(**change)
    assert str(caught.value) == message


@override_settings(TASKS={"default": {"BACKEND": BACKEND, "QUEUES": ["default", "queue_1"]}})
def test_a_queue_outside_queues_is_refused() -> None:
    assert django_tasks.noop.using(queue_name="queue_1").queue_name == "queue_1"
    with pytest.raises(InvalidTask, match=r"^Queue 'queue-2' is not valid for backend\.$"):
        django_tasks.noop.using(queue_name="queue-2")


def test_functions_that_cannot_be_tasks_are_refused() -> None:
    def inner() -> None:
        pass

    with pytest.raises(InvalidTask, match=r"^Task function must be defined at a module level\.$"):
        task(inner)
    with pytest.raises(InvalidTask, match="does not have a first argument of 'context'"):
        task(takes_context=True)(django_tasks.add.func)
    with pytest.raises(TypeError, match="run_after cannot be defined statically"):
        task(run_after=timezone.now())(django_tasks.add.func)  # type: ignore[call-overload]


def test_a_bad_retry_is_refused() -> None:
    with pytest.raises(InvalidTask) as caught:
        task(retry="often")(django_tasks.add.func)  # type: ignore[call-overload]
    assert str(caught.value) == (
        "Task 'tests.tasksqueue.backends.django_tasks.add': retry must be False, True, a number "
        "of retries (0 or more) or a RetryStrategy, not 'often'."
    )


def test_a_function_already_a_project_task_is_refused() -> None:
    with pytest.raises(InvalidTask, match=r"is already a task of taiga\.tasksqueue"):
        task(sample_tasks.add.func)


@pytest.mark.django_db
def test_tasks_are_validated_again_at_enqueue() -> None:
    made_under_any_queue = django_tasks.noop.using(queue_name="unknown_queue")
    with (
        override_settings(TASKS={"default": {"BACKEND": BACKEND, "QUEUES": ["queue-1"]}}),
        pytest.raises(InvalidTask, match="Queue 'unknown_queue' is not valid"),
    ):
        made_under_any_queue.enqueue()
    assert job_count() == 0


@pytest.mark.django_db
def test_enqueue_returns_a_ready_result_and_stores_a_job() -> None:
    before = timezone.now()
    result = django_tasks.add.enqueue(1, b=(2, 3))  # type: ignore[arg-type]
    assert result.status == TaskResultStatus.READY
    assert not result.is_finished
    assert result.task == django_tasks.add
    assert (result.args, result.kwargs) == ([1], {"b": [2, 3]})
    assert result.enqueued_at is not None
    assert before <= result.enqueued_at <= timezone.now()
    assert (result.started_at, result.last_attempted_at, result.finished_at) == (None,) * 3
    assert (result.attempts, result.worker_ids, result.errors) == (0, [], [])
    assert result.backend == "default"
    with pytest.raises(ValueError, match=r"^Task has not finished yet$"):
        _ = result.return_value
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, task_name, queue_name, priority, status FROM procrastinate_jobs"
        )
        assert cursor.fetchall() == [
            (result.id, "tests.tasksqueue.backends.django_tasks.add", "default", 0, "todo")
        ]


@pytest.mark.django_db(transaction=True)
async def test_aenqueue_and_aget_result() -> None:
    result = await django_tasks.double.using(priority=7, queue_name="numbers").aenqueue(21)
    assert result.status == TaskResultStatus.READY
    assert (result.task.priority, result.task.queue_name) == (7, "numbers")
    assert await django_tasks.double.aget_result(result.id) == result
    assert await default_task_backend.aget_result(result.id) == result


@pytest.mark.django_db
def test_get_result_gives_back_what_enqueue_returned() -> None:
    run_after = timezone.now() + datetime.timedelta(hours=1)
    scheduled = django_tasks.echo.using(run_after=run_after, priority=-3, queue_name="later")
    result = scheduled.enqueue("a", 1, flag=True, nested={"x": [None, 1.5]})
    fetched = django_tasks.echo.get_result(result.id)
    assert fetched == result
    assert fetched.task == scheduled
    assert fetched.task.run_after == run_after
    assert default_task_backend.get_result(int(result.id)) == result  # type: ignore[arg-type]


@pytest.mark.django_db(transaction=True)
async def test_refreshing_an_untouched_result_changes_nothing() -> None:
    result = await django_tasks.noop.aenqueue()
    before = dataclasses.asdict(result)
    await result.arefresh()
    assert dataclasses.asdict(result) == before
    await result.arefresh()
    assert dataclasses.asdict(result) == before


@pytest.mark.django_db
@pytest.mark.parametrize("result_id", ["123", 123, "abc", "-1", "", "9" * 30])
def test_an_unknown_id_does_not_exist(result_id) -> None:
    with pytest.raises(TaskResultDoesNotExist, match=r"^No result with id .*: no such job\.$"):
        default_task_backend.get_result(result_id)


@pytest.mark.django_db
def test_the_job_of_a_project_task_is_not_a_django_result() -> None:
    job_id = sample_tasks.add.defer_sync(1)
    with pytest.raises(TaskResultDoesNotExist) as caught:
        default_task_backend.get_result(str(job_id))
    assert str(caught.value) == (
        f"No result with id '{job_id}': job {job_id} runs 'tests.tasksqueue.sample_tasks.add', "
        "which is not a django.tasks task this process can import."
    )


@pytest.mark.django_db
def test_the_result_of_another_task_is_a_mismatch() -> None:
    result = django_tasks.double.enqueue(1)
    with pytest.raises(TaskResultMismatch) as caught:
        django_tasks.noop.get_result(result.id)
    assert str(caught.value) == (
        "Task does not match (received 'tests.tasksqueue.backends.django_tasks.double')"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (
            (timezone.now(),),
            {},
            ArgumentNotSerializable,
            "Unsupported type: <class 'datetime.datetime'>",
        ),
        ((), {"when": object()}, ArgumentNotSerializable, "Unsupported type: <class 'object'>"),
        (({1: "one"},), {}, ArgumentNotSerializable, "keys that are not strings"),
        ((float("nan"),), {}, ArgumentNotSerializable, "cannot be stored as JSON"),
        (("\x00",), {}, ArgumentNotSerializable, "NUL character"),
        (("x" * (1024 * 1024),), {}, ArgumentsTooLarge, "over the 1048576 byte limit"),
    ],
)
def test_arguments_that_do_not_round_trip_are_refused_before_anything_is_stored(
    args, kwargs, error, message
) -> None:
    with pytest.raises(error, match=message) as caught:
        django_tasks.echo.enqueue(*args, **kwargs)
    assert isinstance(caught.value, TypeError | ValueError)
    assert "'tests.tasksqueue.backends.django_tasks.echo'" in str(caught.value)
    assert job_count() == 0


@pytest.mark.django_db
def test_tasks_and_results_pickle() -> None:
    assert pickle.loads(pickle.dumps(django_tasks.flaky)) == django_tasks.flaky
    result = django_tasks.add.enqueue(1, 2)
    assert pickle.loads(pickle.dumps(result)) == result


def test_bad_options_are_a_system_check_error_and_refuse_every_task() -> None:
    with override_settings(TASKS={"default": {"BACKEND": BACKEND, "OPTIONS": {"retries": 3}}}):
        backend = task_backends["default"]
        assert backend.check() == [
            checks.Error(
                "TASKS['default']['OPTIONS'] has unknown option(s) retries: use retry, "
                "enqueue_on_commit",
                id="tasksqueue.E008",
                obj="TASKS['default']",
            )
        ]
        with pytest.raises(InvalidTaskBackend, match="unknown option"):
            django_tasks.noop.enqueue()
    with override_settings(
        TASKS={"default": {"BACKEND": BACKEND, "OPTIONS": {"enqueue_on_commit": "yes"}}}
    ):
        [error] = task_backends["default"].check()
        assert error.msg == (
            "TASKS['default']['OPTIONS']: enqueue_on_commit must be True or False, not 'yes'"
        )
    with override_settings(TASKS={"default": {"BACKEND": BACKEND, "OPTIONS": {"retry": -1}}}):
        [error] = task_backends["default"].check()
        assert "retry must be False, True, a number of retries" in error.msg


def test_using_returns_a_new_task_and_keeps_earlier_changes() -> None:
    now = timezone.now()
    assert django_tasks.noop.using() == django_tasks.noop
    assert django_tasks.noop.using() is not django_tasks.noop
    later = django_tasks.noop.using(run_after=now)
    both = later.using(priority=10)
    assert (both.run_after, both.priority, later.priority) == (now, 10, 0)
    assert django_tasks.noop.run_after is None


def test_using_an_unknown_backend_is_refused() -> None:
    with pytest.raises(InvalidTaskBackend, match=r"^The connection 'unknown' doesn't exist\.$"):
        django_tasks.noop.using(backend="unknown")


@override_settings(TASKS={})
def test_no_backends_means_no_enqueue() -> None:
    with pytest.raises(InvalidTaskBackend):
        django_tasks.noop.enqueue()


async def test_tasks_can_still_be_called_directly() -> None:
    assert django_tasks.add.call(1, 2) == 3
    assert await django_tasks.add.acall(1, b=3) == 4
    assert await django_tasks.double.acall(4) == 8  # type: ignore[comparison-overlap]


@pytest.mark.django_db(transaction=True)
async def test_aenqueue_refuses_what_enqueue_refuses() -> None:
    with pytest.raises(ArgumentNotSerializable, match="Unsupported type"):
        await django_tasks.echo.aenqueue(timezone.now())
    made_under_any_queue = django_tasks.noop.using(queue_name="unknown_queue")
    with (
        override_settings(TASKS={"default": {"BACKEND": BACKEND, "QUEUES": ["queue-1"]}}),
        pytest.raises(InvalidTask, match="Queue 'unknown_queue' is not valid"),
    ):
        await made_under_any_queue.aenqueue()
