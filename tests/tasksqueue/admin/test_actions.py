"""The dashboard's actions: confirmation, what each changes, history, and who may run them."""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import connection
from django.test import Client
from django.utils import timezone

from taiga.tasksqueue.models import Job
from tests.tasksqueue import sample_tasks
from tests.tasksqueue.admin.clients import staff

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "/admin/tasksqueue/job/"


def job(status: str = "todo", scheduled_at: datetime.datetime | None = None) -> int:
    job_id = sample_tasks.add.defer_sync(1)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = %s, scheduled_at = %s WHERE id = %s",
            [status, scheduled_at, job_id],
        )
    return job_id


def states(*job_ids: int) -> list[tuple[str, bool] | None]:
    rows = {row.id: (row.status, row.abort_requested) for row in Job.objects.all()}
    return [rows.get(job_id) for job_id in job_ids]


def act(client: Client, action: str, *job_ids: int, confirm: bool, query: str = "", **extra):
    data = {"action": action, "index": "0", ACTION_CHECKBOX_NAME: [str(i) for i in job_ids]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(f"{JOBS}{query}", {**data, **extra})


def test_a_bulk_action_asks_first_then_acts_and_records_history(admin_client, admin_user) -> None:
    failed, other_failed, waiting = job("failed"), job("failed"), job("todo")

    asked = act(admin_client, "retry_jobs", failed, waiting, confirm=False)
    assert asked.status_code == 200
    assert "will touch <strong>1</strong> of the 2 job(s) selected" in asked.content.decode()
    assert states(failed, waiting) == [("failed", False), ("todo", False)]

    done = act(admin_client, "retry_jobs", failed, waiting, confirm=True)
    assert done.status_code == 302
    assert states(failed, other_failed, waiting) == [
        ("todo", False),
        ("failed", False),
        ("todo", False),
    ]
    [entry] = LogEntry.objects.all()
    assert (entry.user_id, entry.object_id, entry.action_flag, entry.change_message) == (
        admin_user.id,
        str(failed),
        CHANGE,
        "Retry (dashboard)",
    )


def test_everything_a_filter_matches_in_one_action(admin_client) -> None:
    failed = [job("failed") for _ in range(3)]
    kept = job("succeeded")
    asked = act(
        admin_client,
        "retry_jobs",
        failed[0],
        confirm=False,
        query="?status=failed",
        select_across="1",
    )
    assert "will touch <strong>3</strong> of the 3 job(s) selected" in asked.content.decode()
    act(
        admin_client,
        "retry_jobs",
        failed[0],
        confirm=True,
        query="?status=failed",
        select_across="1",
    )
    assert states(*failed, kept) == [("todo", False)] * 3 + [("succeeded", False)]


def test_each_action_changes_only_the_jobs_it_applies_to(admin_client) -> None:
    later = timezone.now() + datetime.timedelta(hours=1)
    waiting, running, scheduled, done = (
        job("todo"),
        job("doing"),
        job("todo", later),
        job("succeeded"),
    )
    everything = (waiting, running, scheduled, done)

    act(admin_client, "abort_jobs", *everything, confirm=True)
    assert states(running) == [("doing", True)]
    act(admin_client, "run_jobs_now", *everything, confirm=True)
    assert Job.objects.get(id=scheduled).scheduled_at <= timezone.now()
    assert Job.objects.get(id=waiting).scheduled_at is None
    act(admin_client, "cancel_jobs", *everything, confirm=True)
    assert states(waiting, scheduled, running) == [
        ("cancelled", False),
        ("cancelled", False),
        ("doing", True),
    ]
    act(admin_client, "delete_jobs", *everything, confirm=True)
    assert states(*everything) == [None, ("doing", True), None, None]
    deleted = LogEntry.objects.filter(action_flag=DELETION).values_list("object_id", flat=True)
    assert sorted(str(object_id) for object_id in deleted) == sorted(
        str(i) for i in (waiting, scheduled, done)
    )


def test_a_view_only_operator_sees_no_action_and_a_forged_one_is_refused() -> None:
    failed = job("failed")
    viewer = staff("view_job")
    assert 'name="action"' not in viewer.get(JOBS).content.decode()
    assert "job-actions" not in viewer.get(f"{JOBS}{failed}/change/").content.decode()
    assert act(viewer, "retry_jobs", failed, confirm=True).status_code == 403
    assert states(failed) == [("failed", False)]
    assert not LogEntry.objects.exists()


def test_each_action_needs_its_own_permission() -> None:
    failed, waiting = job("failed"), job("todo")
    retrier = staff("view_job", "retry_job")
    listing = retrier.get(JOBS).content.decode()
    assert 'value="retry_jobs"' in listing
    assert 'value="cancel_jobs"' not in listing
    assert act(retrier, "cancel_jobs", waiting, confirm=True).status_code == 403
    page = retrier.get(f"{JOBS}{failed}/change/").content.decode()
    assert 'name="retry_jobs-button"' in page
    assert 'name="delete_jobs-button"' not in page
    act(retrier, "retry_jobs", failed, confirm=True)
    assert states(failed, waiting) == [("todo", False), ("todo", False)]


def test_a_jobs_page_button_leads_to_the_confirmation(admin_client) -> None:
    failed = job("failed")
    page = admin_client.get(f"{JOBS}{failed}/change/").content.decode()
    assert 'name="retry_jobs-button"' in page
    asked = act(admin_client, "retry_jobs", failed, confirm=False)
    assert "will touch <strong>1</strong> of the 1 job(s) selected" in asked.content.decode()


def test_a_periodic_task_runs_now_from_the_overview(admin_client, admin_user) -> None:
    schedules = admin_client.get(f"{JOBS}overview/").context["periodic"]
    [retention] = [row for row in schedules if row["task"] == "tasksqueue.delete_finished_jobs"]
    assert retention["last_run"] is None
    response = admin_client.post(
        f"{JOBS}overview/run-periodic/",
        {"task": retention["task"], "periodic_id": retention["periodic_id"]},
    )
    assert response.status_code == 302
    [created] = Job.objects.filter(task_name=retention["task"])
    assert set(created.args) == {"timestamp"}
    [entry] = LogEntry.objects.all()
    assert (entry.user_id, entry.object_id, entry.action_flag) == (
        admin_user.id,
        str(created.id),
        ADDITION,
    )
    # Its queueing lock lets one wait at a time: a second "run now" says so and adds none.
    again = admin_client.post(
        f"{JOBS}overview/run-periodic/",
        {"task": retention["task"], "periodic_id": retention["periodic_id"]},
        follow=True,
    )
    assert "already waiting" in again.content.decode()
    assert Job.objects.filter(task_name=retention["task"]).count() == 1
    missing = {"task": "no.such.task", "periodic_id": ""}
    assert admin_client.post(f"{JOBS}overview/run-periodic/", missing).status_code == 404


def test_running_a_periodic_task_now_needs_its_permission() -> None:
    viewer = staff("view_job")
    page = viewer.get(f"{JOBS}overview/").content.decode()
    assert 'value="Run now"' not in page
    forged = {"task": "tasksqueue.delete_finished_jobs", "periodic_id": ""}
    assert viewer.post(f"{JOBS}overview/run-periodic/", forged).status_code == 403
    assert not Job.objects.exists()
