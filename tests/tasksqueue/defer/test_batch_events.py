"""A batch defer writes its jobs' events and notifications itself (migration tasksqueue 0002 has
Procrastinate's per-row triggers skip its rows); every other INSERT keeps those triggers."""

import json
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateEvent

from tests.tasksqueue.sample_tasks import add, double
from tests.utils.processes import database_url

CHANNELS = (
    "procrastinate_any_queue_v1",
    "procrastinate_queue_v1#default",
    "procrastinate_queue_v1#other",
)


def events(job_ids: list[int]) -> list[tuple[int, str]]:
    rows = ProcrastinateEvent.objects.filter(job_id__in=job_ids).order_by("job_id", "type")
    return list(rows.values_list("job_id", "type"))


def the_setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('tasksqueue.inserting_batch', true)")
        return cursor.fetchone()[0] or ""


@pytest.mark.django_db
def test_each_job_of_a_batch_gets_one_deferred_event_and_a_scheduled_job_its_scheduled_one():
    ids = add.defer_many_sync([(1, 2), (3, 4), (5, 6)])
    [later] = add.configure(schedule_at=timezone.now() + timedelta(hours=1)).defer_many_sync([(7,)])

    assert events(ids) == [(job_id, "deferred") for job_id in ids]
    assert events([later]) == [(later, "deferred"), (later, "scheduled")]


@pytest.mark.django_db
def test_inside_a_transaction_the_defers_after_a_batch_get_their_events_from_the_triggers():
    with transaction.atomic():
        batch = add.defer_many_sync([(1,), (2,)])
        assert the_setting() == ""  # the batch's mark does not outlive it
        single = add.defer_sync(3)
        with connection.cursor() as cursor:  # an INSERT of Procrastinate's own kind
            cursor.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args) "
                "VALUES ('default', 'x', '{}') RETURNING id"
            )
            [raw] = cursor.fetchone()

    assert events([*batch, single, raw]) == [
        (job_id, "deferred") for job_id in sorted([*batch, single, raw])
    ]


@pytest.mark.django_db(transaction=True)
async def test_an_async_batch_over_the_loops_own_connection_gets_its_events():
    ids = await double.defer_many([(1,), (2,)])

    assert await ProcrastinateEvent.objects.filter(job_id__in=ids, type="deferred").acount() == 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_sends_one_notification_per_queue_with_its_highest_job_id_singles_one_per_job():
    with psycopg.connect(database_url(), autocommit=True) as listener:
        for channel in CHANNELS:
            listener.execute(f'LISTEN "{channel}"')

        default_ids = add.defer_many_sync([(i,) for i in range(5)])
        other_ids = add.configure(queue="other").defer_many_sync([(i,) for i in range(3)])
        single = add.defer_sync(9)

        received = [
            (note.channel, json.loads(note.payload))
            for note in listener.notifies(timeout=1.0, stop_after=20)
        ]

    def note(channel: str, job_id: int) -> tuple[str, dict[str, object]]:
        return (channel, {"type": "job_inserted", "job_id": job_id})

    assert received == [
        note("procrastinate_queue_v1#default", default_ids[-1]),
        note("procrastinate_any_queue_v1", default_ids[-1]),
        note("procrastinate_queue_v1#other", other_ids[-1]),
        note("procrastinate_any_queue_v1", other_ids[-1]),
        note("procrastinate_queue_v1#default", single),
        note("procrastinate_any_queue_v1", single),
    ]
