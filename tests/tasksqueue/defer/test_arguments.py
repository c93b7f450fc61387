"""What a job stores for each kind of argument, and the arguments that are refused."""

import datetime
import decimal
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
