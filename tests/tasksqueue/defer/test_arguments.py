"""What a job stores for each kind of argument, and the arguments that are refused."""

import datetime
import decimal
import json
import uuid

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue import ArgumentNotSerializable, ArgumentsTooLarge
from tests.tasksqueue.sample_tasks import add, with_extra

pytestmark = pytest.mark.django_db


def test_values_django_json_encoder_knows_are_stored_as_it_encodes_them():
    job_id = with_extra.defer_sync(
        1,
        when=datetime.datetime(2026, 11, 29, 10, 30, tzinfo=datetime.UTC),
        day=datetime.date(2026, 11, 29),
        ident=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        amount=decimal.Decimal("10.50"),
        nested={"items": [1, "two", None, True], "ratio": 0.5},
        pair=(1, 2),
    )

    assert ProcrastinateJob.objects.get(id=job_id).args == {
        "first": 1,
        "when": "2026-11-29T10:30:00Z",
        "day": "2026-11-29",
        "ident": "12345678-1234-5678-1234-567812345678",
        "amount": "10.50",
        "nested": {"items": [1, "two", None, True], "ratio": 0.5},
        "pair": [1, 2],
    }


@pytest.mark.parametrize(
    ("value", "type_name", "reason"),
    [
        ({1, 2}, "set", "Object of type set is not JSON serializable"),
        (object(), "object", "Object of type object is not JSON serializable"),
        (float("nan"), "float", "Out of range float values are not JSON compliant: nan"),
        ({"deep": [b"bytes"]}, "dict", "Object of type bytes is not JSON serializable"),
    ],
)
def test_a_value_json_cannot_hold_is_refused_naming_the_task_and_the_argument(
    value, type_name, reason
):
    with pytest.raises(ArgumentNotSerializable) as excinfo:
        add.defer_sync(1, value)

    assert str(excinfo.value) == (
        f"Task 'tests.tasksqueue.sample_tasks.add': argument 'b' ({type_name}) cannot be stored "
        f"as JSON ({reason}). Pass plain values instead, e.g. an id rather than an object."
    )
    assert not ProcrastinateJob.objects.exists()


def test_a_model_instance_is_refused_with_the_hint_to_pass_its_id():
    user = User.objects.create(username="ann")

    with pytest.raises(ArgumentNotSerializable, match=r"argument 'a' \(User\).*id rather than"):
        add.defer_sync(user)  # type: ignore[arg-type]
    assert isinstance(ArgumentNotSerializable("x"), TypeError)


@override_settings(TASKSQUEUE_MAX_ARGS_BYTES=40)
def test_arguments_over_the_size_limit_are_refused_and_no_job_is_written():
    assert ProcrastinateJob.objects.filter(id=add.defer_sync(1, 2)).exists()

    with pytest.raises(ArgumentsTooLarge) as excinfo:
        with_extra.defer_sync(1, text="x" * 40)  # {"first":1,"text":"xx...x"}: 61 bytes

    assert str(excinfo.value) == (
        "Task 'tests.tasksqueue.sample_tasks.with_extra': arguments are 61 bytes of JSON, over "
        "the 40 byte limit (TASKSQUEUE_MAX_ARGS_BYTES). Store the data and pass its id."
    )
    assert ProcrastinateJob.objects.count() == 1


@override_settings(TASKSQUEUE_MAX_ARGS_BYTES=20)
def test_the_limit_is_per_job_in_a_defer_many_whatever_the_size_of_the_whole_batch():
    ids = add.defer_many_sync([(n, n) for n in range(10)])  # {"a":9,"b":9}: 13 bytes each

    assert [ProcrastinateJob.objects.get(id=job_id).args for job_id in ids] == [
        {"a": n, "b": n} for n in range(10)
    ]
    with pytest.raises(ArgumentsTooLarge, match="arguments are 23 bytes of JSON, over the 20"):
        add.defer_many_sync([(1,), ("x" * 15,), (2,)])  # {"a":"xx...x"}: 23 bytes
    assert ProcrastinateJob.objects.count() == 10


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ({1, 2}, ArgumentNotSerializable, r"argument 'b' \(set\) cannot be stored as JSON"),
        ("a\x00b", ArgumentNotSerializable, "argument 'b' holds a NUL character"),
    ],
    ids=["not-json", "nul"],
)
def test_one_bad_call_in_a_defer_many_is_named_and_no_job_is_written(bad, error, message):
    with pytest.raises(error, match=message):
        add.defer_many_sync([(1, 2), (3, bad), (5, 6)])

    assert not ProcrastinateJob.objects.exists()


def test_text_beyond_the_bmp_in_a_defer_many_is_stored_as_given():
    # Written as surrogate pairs (\ud83d\ude00), which the batch's quick look cannot tell from a
    # lone surrogate: each call is then looked at alone, and all of them pass.
    ids = add.defer_many_sync([("😀",), ("☃",)])

    assert [ProcrastinateJob.objects.get(id=job_id).args for job_id in ids] == [
        {"a": "😀"},
        {"a": "☃"},
    ]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, 2), {}), ((), {"a": 1}), ((), {"b": 2, "a": 1}), ((1,), {"b": 2})],
)
def test_arguments_are_bound_in_the_order_of_the_signature_as_signature_bind_binds_them(
    args, kwargs
):
    bound = add.signature.bind(*args, **kwargs).arguments

    assert add.arguments.encode(args, kwargs, 100) == json.dumps(bound, separators=(",", ":"))
