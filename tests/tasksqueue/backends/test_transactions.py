"""Enqueueing inside a transaction: part of it by default, after it with `enqueue_on_commit`."""

import pytest
from django.db import connection, transaction
from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.test import override_settings

from tests.tasksqueue.backends import django_tasks

pytestmark = pytest.mark.django_db(transaction=True)

ON_COMMIT = {
    "default": {
        "BACKEND": "taiga.tasksqueue.backends.TasksQueueBackend",
        "QUEUES": [],
        "OPTIONS": {"enqueue_on_commit": True},
    }
}


class Rollback(Exception):
    pass


def stored_ids() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text FROM procrastinate_jobs ORDER BY id")
        return [job_id for (job_id,) in cursor.fetchall()]


def enqueue_then_roll_back(seen_inside: list[str]) -> str:
    """Enqueue `add` in a transaction that rolls back; `seen_inside`: the ids stored within it."""
    try:
        with transaction.atomic():
            result = django_tasks.add.enqueue(1)
            seen_inside.extend(stored_ids())
            raise Rollback
    except Rollback:
        return result.id


def test_a_job_enqueued_in_a_transaction_goes_with_its_rollback() -> None:
    seen_inside: list[str] = []
    result_id = enqueue_then_roll_back(seen_inside)
    assert seen_inside == [result_id]  # stored at once, inside the transaction
    assert stored_ids() == []
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(result_id)
    with transaction.atomic():
        kept = django_tasks.add.enqueue(2)
    assert stored_ids() == [kept.id]


@override_settings(TASKS=ON_COMMIT)
def test_on_commit_stores_the_job_when_the_transaction_commits() -> None:
    enqueued: list[str] = []

    def on_enqueued(sender, task_result, **kwargs):
        enqueued.append(task_result.id)

    task_enqueued.connect(on_enqueued)
    try:
        with transaction.atomic():
            result = django_tasks.add.enqueue(1)
            assert result.id.isdigit()  # reserved at once
            assert result.status == TaskResultStatus.READY
            assert stored_ids() == []
            assert enqueued == []
        assert stored_ids() == [result.id]
        assert enqueued == [result.id]
        assert task_backends["default"].get_result(result.id) == result
        outside = django_tasks.add.enqueue(2)  # no transaction: stored at once
        assert stored_ids() == [result.id, outside.id]
    finally:
        task_enqueued.disconnect(on_enqueued)


@override_settings(TASKS=ON_COMMIT)
def test_on_commit_stores_nothing_when_the_transaction_rolls_back() -> None:
    seen_inside: list[str] = []
    result_id = enqueue_then_roll_back(seen_inside)
    assert seen_inside == []
    assert stored_ids() == []
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result(result_id)


@override_settings(TASKS=ON_COMMIT)
async def test_on_commit_in_async_code_stores_the_job_at_once() -> None:
    result = await django_tasks.double.aenqueue(2)
    assert (await django_tasks.double.aget_result(result.id)).status == TaskResultStatus.READY
