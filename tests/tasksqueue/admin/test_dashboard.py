"""The dashboard's pages in the admin's "Tasks queue" section, on PostgreSQL with a real worker."""

import os
import socket

import pytest
from django.contrib.auth.models import User
from django.db import connection

from taiga.tasksqueue.admin import paging
from taiga.tasksqueue.admin.job_page import MASK, masked
from taiga.tasksqueue.admin.overview import workers
from taiga.tasksqueue.manager import manager as tqmanager
from tests.tasksqueue import sample_tasks
from tests.tasksqueue.admin.clients import staff
from tests.tasksqueue.backends import django_tasks

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "/admin/tasksqueue/job/"


def listed_ids(response) -> list[int]:
    return [job.id for job in response.context["cl"].result_list]


def test_the_jobs_list_is_newest_first_and_filters_by_status_queue_and_task(admin_client) -> None:
    first = sample_tasks.add.defer_sync(1)
    second = sample_tasks.configured.defer_sync(7)
    third = int(django_tasks.add.using(queue_name="numbers").enqueue(2).id)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = %s", [first])

    response = admin_client.get(JOBS)
    assert response.status_code == 200
    assert listed_ids(response) == [third, second, first]
    assert listed_ids(admin_client.get(JOBS, {"status": "failed"})) == [first]
    assert listed_ids(admin_client.get(JOBS, {"queue_name": "numbers"})) == [third]
    assert listed_ids(admin_client.get(JOBS, {"task": "tests.custom_name"})) == [second]
    assert listed_ids(admin_client.get(JOBS, {"task": django_tasks.add.module_path})) == [third]


def test_search_by_id_lock_queueing_lock_and_argument_text(admin_client) -> None:
    plain = sample_tasks.add.defer_sync(12345)
    locked = sample_tasks.configured.defer_sync(1)  # lock "report-lock"
    texty = sample_tasks.with_extra.defer_sync(1, note="needle in a haystack")
    assert listed_ids(admin_client.get(JOBS, {"q": str(plain)})) == [plain]
    assert listed_ids(admin_client.get(JOBS, {"q": "report-lock"})) == [locked]
    assert listed_ids(admin_client.get(JOBS, {"q": "report-queueing-lock"})) == [locked]
    assert listed_ids(admin_client.get(JOBS, {"q": "NEEDLE"})) == [texty]
    assert listed_ids(admin_client.get(JOBS, {"q": "nothing like it"})) == []


def test_the_count_stops_past_its_cap(admin_client, monkeypatch) -> None:
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    for n in range(5):
        sample_tasks.add.defer_sync(n)
    response = admin_client.get(JOBS)
    paginator = response.context["cl"].paginator
    assert (paginator.count, paginator.capped) == (4, True)


def test_a_failed_jobs_page_shows_each_runs_traceback_and_masks_secrets(
    admin_client, run_worker_once
) -> None:
    result = django_tasks.fail.enqueue("the message")
    secret = sample_tasks.with_extra.defer_sync(1, password="hunter2", nested={"token": "t0k"})
    run_worker_once()

    page = admin_client.get(f"{JOBS}{result.id}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Attempt 1: failed" in text
    assert "builtins.ValueError" in text
    assert "ValueError: the message" in text
    assert "Django task result" in text
    assert "FAILED" in text

    secret_page = admin_client.get(f"{JOBS}{secret}/change/").content.decode()
    assert "hunter2" not in secret_page
    assert "t0k" not in secret_page
    assert MASK in secret_page


def test_masking_reaches_every_depth_and_ignores_case() -> None:
    value = {"Password": "x", "items": [{"TOKEN": "y", "keep": 1}], "other": "z"}
    assert masked(value, ["password", "token"]) == {
        "Password": MASK,
        "items": [{"TOKEN": MASK, "keep": 1}],
        "other": "z",
    }


def test_the_overview_shows_the_status_report(admin_client) -> None:
    sample_tasks.add.defer_sync(1)
    response = admin_client.get(f"{JOBS}overview/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Tasks queue overview" in text
    assert ">database<" in text
    assert ">queues<" in text
    assert ">workers<" in text
    queues = response.context["queues"]
    assert [(queue["name"], queue["counts"][0], queue["ready"]) for queue in queues] == [
        ("default", 1, 1)
    ]


def test_a_view_only_operator_sees_every_page_and_no_one_else_does() -> None:
    job_id = sample_tasks.add.defer_sync(1)
    viewer = staff("view_job")
    assert viewer.get(JOBS).status_code == 200
    assert viewer.get(f"{JOBS}{job_id}/change/").status_code == 200
    assert viewer.get(f"{JOBS}overview/").status_code == 200
    User.objects.all().delete()
    nobody = staff()
    assert nobody.get(JOBS).status_code == 403
    assert nobody.get(f"{JOBS}{job_id}/change/").status_code == 403
    assert nobody.get(f"{JOBS}overview/").status_code == 403


SEEN_WORKERS: list[list[dict]] = []


@tqmanager.task
def look_at_the_workers() -> None:
    SEEN_WORKERS.append(workers())


def test_a_running_worker_is_listed_with_who_it_is(admin_client, run_worker_once) -> None:
    SEEN_WORKERS.clear()
    look_at_the_workers.defer_sync()
    run_worker_once(concurrency=3, queues=["default"], name="reports-1")
    [[seen]] = SEEN_WORKERS
    assert (seen["name"], seen["host"], seen["pid"], seen["concurrency"], seen["queues"]) == (
        "reports-1",
        socket.gethostname(),
        os.getpid(),
        3,
        "default",
    )
    assert seen["running"] == 1  # this job
    assert seen["last_heartbeat"] is not None
    # Gone with its registration once it stopped.
    page = admin_client.get(f"{JOBS}overview/").content.decode()
    assert "No worker registered." in page


def test_the_jobs_of_one_worker(admin_client) -> None:
    mine, other = sample_tasks.add.defer_sync(1), sample_tasks.add.defer_sync(2)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id")
        (worker_id,) = cursor.fetchone()
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
            [worker_id, mine],
        )
    assert listed_ids(admin_client.get(JOBS, {"worker": str(worker_id)})) == [mine]
    assert other not in listed_ids(admin_client.get(JOBS, {"worker": str(worker_id)}))


def test_the_overview_counts_the_jobs_that_ended_by_hour(admin_client, run_worker_once) -> None:
    sample_tasks.add.defer_sync(1)
    sample_tasks.add.defer_sync(2)
    django_tasks.fail.enqueue("counted")
    run_worker_once()
    with connection.cursor() as cursor:  # one of them ended three hours ago
        cursor.execute(
            "UPDATE procrastinate_events SET at = at - interval '3 hours' "
            "WHERE id = (SELECT min(id) FROM procrastinate_events WHERE type = 'succeeded')"
        )
    response = admin_client.get(f"{JOBS}overview/")
    chart = response.context["throughput"]
    assert (chart["last_hour_succeeded"], chart["last_hour_failed"]) == (1, 1)
    assert (chart["total_succeeded"], chart["total_failed"]) == (2, 1)
    assert [(bar["succeeded"], bar["failed"]) for bar in chart["bars"][-4:]] == [
        (1, 0),
        (0, 0),
        (0, 0),
        (1, 1),
    ]
    assert len(chart["bars"]) == 24
    assert 'id="throughput-chart"' in response.content.decode()
