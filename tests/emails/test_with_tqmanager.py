"""The email view tested with the tqmanager toolkit: the view defers, the toolkit runs the job."""

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings

from taiga.emails.tasks import send_email
from tests.emails.backends import RefusingSMTPBackend

REFUSING_MAILER = {
    "default": {"BACKEND": f"{RefusingSMTPBackend.__module__}.{RefusingSMTPBackend.__name__}"}
}
CONTEXT = {"subject": "Hello", "message": "Body text"}


def job_row(job_id, status="todo", attempts=0, template="notice", context=CONTEXT):
    return {
        "id": job_id,
        "queue_name": "emails",
        "task_name": "taiga.emails.tasks.send_email",
        "priority": 0,
        "lock": None,
        "queueing_lock": None,
        "args": {"email": "ann@example.com", "template": template, "context": context},
        "status": status,
        "scheduled_at": None,
        "attempts": attempts,
        "abort_requested": False,
        "worker_id": None,
    }


def post_email(staff_client):
    return staff_client.post(
        "/emails/send/",
        {"email": "ann@example.com", "context": CONTEXT},
        content_type="application/json",
    )


@pytest.mark.django_db
def test_the_view_defers_an_email_that_the_toolkit_sends(staff_client, tqmanager):
    response = post_email(staff_client)

    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert tqmanager.jobs == {job_id: job_row(job_id)}
    assert mail.outbox == []

    tqmanager.run_pending_jobs_sync()

    assert tqmanager.succeeded_jobs == [job_row(job_id, "succeeded", 1)]
    [message] = mail.outbox
    assert (message.subject, message.body, message.to) == (
        "Hello",
        "Body text\n",
        ["ann@example.com"],
    )


@pytest.mark.django_db
@override_settings(MAILERS=REFUSING_MAILER)
def test_an_smtp_error_leaves_the_job_scheduled_for_a_retry(staff_client, tqmanager):
    job_id = post_email(staff_client).json()["job_id"]

    tqmanager.run_pending_jobs_sync()

    [retry] = tqmanager.scheduled_jobs
    assert (retry["id"], retry["status"], retry["attempts"]) == (job_id, "todo", 1)
    assert tqmanager.failed_jobs == []
    assert mail.outbox == []


def test_a_missing_template_fails_the_job_at_once(tqmanager):
    send_email.defer_sync("ann@example.com", "missing", {})

    tqmanager.run_pending_jobs_sync()

    assert tqmanager.failed_jobs == [job_row(1, "failed", 1, template="missing", context={})]


@pytest.mark.tasksqueue_db
def test_with_the_real_database_a_rolled_back_request_leaves_no_email(staff_client, tqmanager):
    with transaction.atomic():
        post_email(staff_client)
        transaction.set_rollback(True)  # the rest of the request failed
    assert tqmanager.jobs == {}

    job_id = post_email(staff_client).json()["job_id"]
    tqmanager.run_pending_jobs_sync()

    assert tqmanager.jobs == {job_id: job_row(job_id, "succeeded", 1)}
    assert [message.to for message in mail.outbox] == [["ann@example.com"]]
