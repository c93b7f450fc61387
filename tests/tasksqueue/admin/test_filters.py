"""The jobs list's time filter and the reach of its search, on PostgreSQL."""

import datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from taiga.tasksqueue.admin.filters import first_id_deferred_since
from tests.tasksqueue import sample_tasks

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "/admin/tasksqueue/job/"


def listed_ids(response) -> list[int]:
    assert response.status_code == 200
    return [job.id for job in response.context["cl"].result_list]


def deferred_ago(job_id: int, ago: datetime.timedelta) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = %s WHERE job_id = %s AND type = 'deferred'",
            [timezone.now() - ago, job_id],
        )


def test_the_jobs_deferred_in_the_last_hour_day_or_week(admin_client) -> None:
    ages = [datetime.timedelta(days=30), datetime.timedelta(days=3), datetime.timedelta(hours=5)]
    old, days, hours = (sample_tasks.add.defer_sync(n) for n in range(3))
    for job_id, ago in zip((old, days, hours), ages, strict=True):
        deferred_ago(job_id, ago)
    recent = sample_tasks.add.defer_sync(3)

    assert listed_ids(admin_client.get(JOBS, {"deferred": "1h"})) == [recent]
    assert listed_ids(admin_client.get(JOBS, {"deferred": "24h"})) == [recent, hours]
    assert listed_ids(admin_client.get(JOBS, {"deferred": "7d"})) == [recent, hours, days]
    assert listed_ids(admin_client.get(JOBS)) == [recent, hours, days, old]


def test_the_bound_of_the_time_filter_skips_missing_ids() -> None:
    now = timezone.now()
    assert first_id_deferred_since(now) == 0  # no jobs at all

    ids = [sample_tasks.add.defer_sync(n) for n in range(9)]
    for position, job_id in enumerate(ids):
        deferred_ago(job_id, datetime.timedelta(hours=10 - position))
    with connection.cursor() as cursor:  # holes in the ids, on both sides of the bound
        cursor.execute("DELETE FROM procrastinate_jobs WHERE id = ANY(%s)", [ids[3:5] + ids[6:8]])

    left = ids[:3] + ids[5:6] + ids[8:]

    def at_or_above(bound: int) -> list[int]:
        return [job_id for job_id in left if job_id >= bound]

    assert at_or_above(first_id_deferred_since(now - datetime.timedelta(hours=4.5))) == [ids[8]]
    assert at_or_above(first_id_deferred_since(now - datetime.timedelta(hours=5.5))) == [
        ids[5],
        ids[8],
    ]
    assert at_or_above(first_id_deferred_since(now - datetime.timedelta(hours=11))) == left
    assert at_or_above(first_id_deferred_since(now)) == []


@override_settings(TASKSQUEUE_DASHBOARD_SEARCH_WINDOW=2)
def test_text_and_finished_jobs_locks_are_searched_in_the_newest_jobs_unless_all_are_asked(
    admin_client,
) -> None:
    needle = sample_tasks.with_extra.defer_sync(1, note="needle in a haystack")
    finished = sample_tasks.configured.defer_sync(2)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'succeeded', queueing_lock = 'old-lock' "
            "WHERE id = %s",
            [finished],
        )
    waiting = sample_tasks.configured.defer_sync(1)  # locks "report-lock", "report-queueing-lock"
    newer = [sample_tasks.add.defer_sync(n) for n in range(2)]

    assert listed_ids(admin_client.get(JOBS, {"q": "needle"})) == []
    assert listed_ids(admin_client.get(JOBS, {"q": "needle", "search_in": "all"})) == [needle]
    assert listed_ids(admin_client.get(JOBS, {"q": "old-lock"})) == []
    assert listed_ids(admin_client.get(JOBS, {"q": "old-lock", "search_in": "all"})) == [finished]
    # A waiting job's queueing lock, and any id, are found however old the job.
    assert listed_ids(admin_client.get(JOBS, {"q": "report-queueing-lock"})) == [waiting]
    assert listed_ids(admin_client.get(JOBS, {"q": str(needle)})) == [needle]
    assert listed_ids(admin_client.get(JOBS, {"q": str(newer[0])})) == [newer[0]]

    page = admin_client.get(JOBS, {"q": "needle"}).content.decode()
    assert "the newest 2 jobs" in page
    assert "all jobs (slow on large tables)" in page


def test_the_queue_filter_offers_each_queue_that_has_jobs(admin_client) -> None:
    for queue in ("zeta", "alpha", "zeta", "mid"):
        sample_tasks.add.configure(queue=queue).defer_sync(1)
    response = admin_client.get(JOBS, {"queue_name": "mid"})
    [queues] = [spec for spec in response.context["cl"].filter_specs if spec.title == "queue"]
    assert queues.lookup_choices == [("alpha", "alpha"), ("mid", "mid"), ("zeta", "zeta")]
    assert len(listed_ids(response)) == 1
