"""The operators' dashboard in a real browser: the overview, the jobs list, a failed job's page,
actions through their confirmation, a real worker, and what a view-only operator cannot do.

Screenshots go to `tmp_path`, or to the folder `DASHBOARD_SCREENSHOTS` names (docs/images, when
the docs' pictures are taken again).
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.browser.helpers import save_screenshot
from tests.tasksqueue.backends import django_tasks
from tests.utils.processes import run_worker_once

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "/admin/tasksqueue/job/"


def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)


def run_worker() -> None:
    """A real worker, in a process of its own, until no job is ready."""
    worker = run_worker_once("tests.tasksqueue.backends.django_tasks")
    assert worker.returncode == 0, worker.stderr


def test_an_operator_finds_a_failed_job_retries_it_and_sees_it_succeed(
    admin_page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    failing = django_tasks.fails_until.enqueue(str(marker))
    for n in range(3):
        django_tasks.add.using(queue_name="numbers").enqueue(n)
    run_worker()

    page = admin_page
    page.get_by_role("link", name="Jobs", exact=True).first.click()
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Tasks queue overview")).to_be_visible()
    expect(page.locator("#throughput")).to_contain_text("3 succeeded, 1 failed")
    expect(page.locator("#queues")).to_contain_text("numbers")
    save_screenshot(page, shots(tmp_path) / "dashboard-overview.png")

    page.goto(f"{live_server.url}{JOBS}")
    expect(page.locator("#result_list tbody tr")).to_have_count(4)
    page.get_by_role("link", name="failed", exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.goto(f"{live_server.url}{JOBS}")
    page.fill("#searchbar", str(marker))
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    save_screenshot(page, shots(tmp_path) / "dashboard-jobs.png")

    page.locator("#result_list tbody tr th a").first.click()
    expect(page.locator("#job-status")).to_have_text("failed")
    expect(page.locator(".traceback")).to_contain_text(f"RuntimeError: {marker} is not there yet")
    save_screenshot(page, shots(tmp_path) / "dashboard-failed-job.png")

    marker.touch()
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#confirm-count")).to_contain_text("will touch 1 of the 1 job(s) selected")
    page.get_by_role("button", name="Yes, retry 1 job(s)").click()
    expect(page.locator(".messagelist")).to_contain_text("Retry: 1 job(s) changed.")

    run_worker()
    page.goto(f"{live_server.url}{JOBS}{failing.id}/change/")
    expect(page.locator("#job-status")).to_have_text("succeeded")
    expect(page.locator(".run")).to_have_count(2)
    expect(page.locator(".run").last).to_contain_text("succeeded")
    expect(page.locator("#django-result")).to_contain_text("SUCCESSFUL")


def test_a_bulk_action_on_everything_a_filter_matches(
    admin_page: Page, live_server: LiveServer
) -> None:
    for n in range(5):
        django_tasks.add.using(queue_name="batch").enqueue(n)
    django_tasks.add.enqueue(99)  # another queue: not matched

    page = admin_page
    page.goto(f"{live_server.url}{JOBS}?queue_name=batch")
    page.locator("#action-toggle").check()
    page.select_option("select[name=action]", "cancel_jobs")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#confirm-count")).to_contain_text("will touch 5 of the 5 job(s) selected")
    page.get_by_role("button", name="Yes, cancel 5 job(s)").click()
    expect(page.locator(".messagelist")).to_contain_text("Cancel: 5 job(s) changed.")

    page.goto(f"{live_server.url}{JOBS}?status=cancelled")
    expect(page.locator("#result_list tbody tr")).to_have_count(5)
    page.goto(f"{live_server.url}{JOBS}?status=todo")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)


def test_a_view_only_operator_sees_everything_and_can_act_on_nothing(
    admin_login, make_staff_user, live_server: LiveServer
) -> None:
    job = django_tasks.add.enqueue(1)
    viewer: User = make_staff_user("viewer", ["tasksqueue.view_job"])
    page: Page = admin_login(viewer.username)

    page.goto(f"{live_server.url}{JOBS}")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("select[name=action]")).to_have_count(0)
    page.goto(f"{live_server.url}{JOBS}{job.id}/change/")
    expect(page.locator("#job-status")).to_have_text("todo")
    expect(page.locator("#job-actions")).to_have_count(0)
    page.goto(f"{live_server.url}{JOBS}overview/")
    expect(page.get_by_role("button", name="Run now")).to_have_count(0)

    # A forged form (the page's own CSRF token, an action the page never offered).
    [token] = [c["value"] for c in page.context.cookies() if c["name"] == "csrftoken"]
    response = page.request.post(
        f"{live_server.url}{JOBS}",
        form={
            "csrfmiddlewaretoken": token,
            "action": "cancel_jobs",
            "index": "0",
            "_selected_action": job.id,
            "confirm": "yes",
        },
        headers={"Referer": f"{live_server.url}{JOBS}", "X-CSRFToken": token},
    )
    assert response.status == 403
    assert "CSRF" not in response.text()  # refused for the permission, not the form's token
    assert django_tasks.add.get_result(job.id).status == "READY"


def test_the_overview_refreshes_itself_until_paused(
    admin_page: Page, live_server: LiveServer
) -> None:
    page = admin_page
    page.goto(f"{live_server.url}{JOBS}overview/")
    expect(page.locator("#refresh")).to_be_checked()
    django_tasks.add.using(queue_name="fresh").enqueue(1)
    expect(page.locator("#queues")).to_contain_text("fresh", timeout=8000)

    page.locator("#refresh").uncheck()
    django_tasks.add.using(queue_name="unseen").enqueue(1)
    page.wait_for_timeout(6000)  # more than one refresh period
    expect(page.locator("#queues")).not_to_contain_text("unseen")
    page.reload()  # the pause is remembered; a reload shows what is there now
    expect(page.locator("#refresh")).not_to_be_checked()
    expect(page.locator("#queues")).to_contain_text("unseen")
