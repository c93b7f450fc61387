"""The web app's state exporter (/metrics): scraped with Django's client on PostgreSQL, after jobs a
real worker ran, and parsed with prometheus_client's own parser."""

import datetime
import importlib

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.observability import state_metrics, urls
from tests.tasksqueue.admin.clients import staff

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "s3cret-scraper-token"
QUEUE = "obsweb"
STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted")

# {metric: {label values: value}}, the label values in this order.
Scrape = dict[str, dict[tuple[str, ...], float]]
LABELS = ("queue", "task", "status", "check")


@tqmanager.task(queue=QUEUE)
def succeed(n: int) -> int:
    return n


@tqmanager.task(queue=QUEUE, retry=1)
def fail_twice() -> None:
    raise ValueError("fails every time")


@pytest.fixture(autouse=True)
def fresh_exporter():
    """A collector of the test's own (its cache, its clock), with the token set."""
    state_metrics.state_collector.cache_clear()
    with override_settings(TASKSQUEUE_METRICS_TOKEN=TOKEN):
        yield state_metrics.state_collector()
    state_metrics.state_collector.cache_clear()


def scrape(client, token: str = TOKEN) -> Scrape:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    values: Scrape = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = tuple(sample.labels[name] for name in LABELS if name in sample.labels)
            values.setdefault(sample.name, {})[labels] = sample.value
    return values


def by_status(**counts: int) -> dict[tuple[str, ...], float]:
    return {(QUEUE, status): counts.get(status, 0) for status in STATUSES}


def set_deferred_at(job_id: int, at: datetime.datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = %s WHERE job_id = %s AND type = 'deferred'",
            [at, job_id],
        )


def test_defer_three_run_them_and_one_scheduled_later(
    client, run_worker_once, fresh_exporter
) -> None:
    now = timezone.now()
    first = succeed.defer_sync(1)
    succeed.defer_sync(2)
    failing = fail_twice.defer_sync()
    succeed.configure(schedule_at=now + datetime.timedelta(hours=1)).defer_sync(3)
    set_deferred_at(first, now - datetime.timedelta(seconds=90))
    fresh_exporter.now = lambda: now

    before = scrape(client)

    assert before["tasksqueue_queue_jobs"] == by_status(todo=4)
    # The job scheduled an hour ahead is not waiting: three are ready, the first for 90 s.
    assert before["tasksqueue_queue_ready_jobs"] == {(QUEUE,): 3}
    assert before["tasksqueue_queue_oldest_ready_age_seconds"] == {(QUEUE,): 90.0}
    assert before["tasksqueue_workers_alive"] == {(): 0}
    assert before["tasksqueue_status_report_timestamp_seconds"] == {(): now.timestamp()}

    run_worker_once()
    fresh_exporter.now = timezone.now
    with override_settings(TASKSQUEUE_METRICS_CACHE_SECONDS=0):
        after = scrape(client)

    with connection.cursor() as cursor:
        cursor.execute("SELECT attempts FROM procrastinate_jobs WHERE id = %s", [failing])
        assert cursor.fetchone() == (2,)  # failed after one retry
    assert after["tasksqueue_queue_jobs"] == by_status(todo=1, succeeded=2, failed=1)
    assert after["tasksqueue_queue_ready_jobs"] == {(QUEUE,): 0}
    assert after["tasksqueue_queue_oldest_ready_age_seconds"] == {(QUEUE,): 0.0}
    assert after["tasksqueue_workers_alive"] == {(): 0}  # the one-shot worker is gone
    assert after["tasksqueue_workers_stalled"] == {(): 0}
    assert after["tasksqueue_workers_stalled_jobs"] == {(): 0}
    assert "tasksqueue_orphan_jobs" not in after  # a family without samples
    assert after["tasksqueue_status_check_failed"] == {
        ("database",): 0,
        ("schema",): 0,
        ("tasks",): 0,
        ("queues",): 0,
        ("workers",): 0,
        ("periodic",): 0,
        ("orphans",): 0,
    }


def add_worker(last_heartbeat: datetime.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (%s) RETURNING id",
            [last_heartbeat],
        )
        (worker_id,) = cursor.fetchone()
    return int(worker_id)


def add_job(task_name: str, queue: str, status: str, worker_id: int | None = None) -> None:
    job_id = tqmanager.app.configure_task(task_name, queue=queue).defer()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = %s, worker_id = %s WHERE id = %s",
            [status, worker_id, job_id],
        )


def test_workers_alive_and_stalled_stalled_jobs_and_orphans(client) -> None:
    now = timezone.now()
    add_worker(now)
    silent = add_worker(now - datetime.timedelta(minutes=5))
    add_job(succeed.name, QUEUE, "doing", silent)
    add_job("gone.tasks.lost", "misc", "todo")
    add_job("gone.tasks.lost", "misc", "todo")
    add_job("gone.tasks.other", "misc", "failed")

    state = scrape(client)

    assert state["tasksqueue_workers_alive"] == {(): 1}
    assert state["tasksqueue_workers_stalled"] == {(): 1}
    assert state["tasksqueue_workers_stalled_jobs"] == {(): 1}
    assert state["tasksqueue_orphan_jobs"] == {
        ("gone.tasks.lost", "todo"): 2,
        ("gone.tasks.other", "failed"): 1,
    }
    assert state["tasksqueue_queue_jobs"][("misc", "todo")] == 2
    assert state["tasksqueue_queue_jobs"][("misc", "failed")] == 1
    assert state["tasksqueue_queue_jobs"][(QUEUE, "doing")] == 1
    failing = {
        labels[0] for labels, value in state["tasksqueue_status_check_failed"].items() if value
    }
    assert failing == {"workers", "orphans"}


def test_a_report_serves_the_scrapes_of_its_cache_window(client, fresh_exporter) -> None:
    clock = [1000.0]
    fresh_exporter.clock = lambda: clock[0]
    succeed.defer_sync(1)

    with override_settings(TASKSQUEUE_METRICS_CACHE_SECONDS=30):
        assert scrape(client)["tasksqueue_queue_ready_jobs"] == {(QUEUE,): 1}
        succeed.defer_sync(2)
        clock[0] += 29.9
        assert scrape(client)["tasksqueue_queue_ready_jobs"] == {(QUEUE,): 1}
        clock[0] += 0.1
        assert scrape(client)["tasksqueue_queue_ready_jobs"] == {(QUEUE,): 2}


def test_refuses_anyone_without_the_token_or_a_staff_login(client, django_user_model) -> None:
    nobody = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    other_scheme = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    user = django_user_model.objects.create_user("someone", password="pw")
    client.force_login(user)
    not_staff = client.get("/metrics")

    assert [r.status_code for r in (nobody, wrong, other_scheme)] == [401, 401, 401]
    assert nobody["WWW-Authenticate"] == 'Bearer realm="tasksqueue"'
    assert nobody.json() == {
        "error": "send the bearer token of TASKSQUEUE_METRICS_TOKEN, or log in"
    }
    assert wrong.json() == {"error": "wrong bearer token"}
    assert (not_staff.status_code, not_staff.json()) == (403, {"error": "staff only"})
    assert b"tasksqueue_" not in nobody.content + wrong.content + not_staff.content


def test_a_staff_login_opens_it_and_no_token_opens_it_when_none_is_set() -> None:
    assert staff().get("/metrics").status_code == 200
    with override_settings(TASKSQUEUE_METRICS_TOKEN=""):
        refused = Client().get("/metrics", headers={"Authorization": "Bearer "})
    assert refused.status_code == 401


def test_its_path_is_a_setting() -> None:
    with override_settings(
        ROOT_URLCONF="taiga.tasksqueue.observability.urls", TASKSQUEUE_METRICS_PATH="ops/state"
    ):
        importlib.reload(urls)
        try:
            moved = Client().get("/ops/state", headers={"Authorization": f"Bearer {TOKEN}"})
            gone = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        finally:
            importlib.reload(urls)
    assert (moved.status_code, gone.status_code) == (200, 404)
    assert b"# TYPE tasksqueue_queue_jobs gauge" in moved.content
