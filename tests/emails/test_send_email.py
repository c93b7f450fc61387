"""The email flow end to end: view -> job row -> real worker -> Django's mail outbox."""

import datetime

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.emails.tasks import send_email
from tests.utils.processes import closed_port

pytestmark = pytest.mark.django_db(transaction=True)

REFUSING_MAILER = {"default": {"BACKEND": "tests.emails.backends.RefusingSMTPBackend"}}


def test_the_view_defers_a_job_that_the_worker_sends(staff_client, run_worker_once):
    response = staff_client.post(
        "/emails/send/",
        {"email": "ann@example.com", "context": {"subject": "Hello", "message": "Body text"}},
        content_type="application/json",
    )

    assert response.status_code == 202
    job = ProcrastinateJob.objects.get(id=response.json()["job_id"])
    assert (job.task_name, job.queue_name, job.status) == (
        "taiga.emails.tasks.send_email",
        "emails",
        "todo",
    )
    assert job.args == {
        "email": "ann@example.com",
        "template": "notice",
        "context": {"subject": "Hello", "message": "Body text"},
    }

    run_worker_once()

    job.refresh_from_db()
    assert job.status == "succeeded"
    [message] = mail.outbox
    assert (message.subject, message.body, message.to) == (
        "Hello",
        "Body text\n",
        ["ann@example.com"],
    )


@override_settings(MAILERS=REFUSING_MAILER)
def test_an_smtp_error_is_retried_later(run_worker_once):
    job_id = send_email.defer_sync("ann@example.com", "notice", {"subject": "s", "message": "m"})
    before = timezone.now()

    run_worker_once()

    job = ProcrastinateJob.objects.get(id=job_id)
    # Retried: back to todo, scheduled after the failure by the exponential backoff (2 s first).
    assert (job.status, job.attempts) == ("todo", 1)
    assert job.scheduled_at is not None
    assert job.scheduled_at - before >= datetime.timedelta(seconds=1)


def test_an_smtp_server_that_is_down_is_retried_later(run_worker_once):
    down = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": closed_port()},
    }
    job_id = send_email.defer_sync("ann@example.com", "notice", {"subject": "s", "message": "m"})

    with override_settings(MAILERS={"default": down}):
        run_worker_once()

    job = ProcrastinateJob.objects.get(id=job_id)
    assert (job.status, job.attempts) == ("todo", 1)


def test_an_error_that_retrying_cannot_fix_fails_the_job_at_once(run_worker_once):
    job_id = send_email.defer_sync("ann@example.com", "missing-template", {})

    run_worker_once()

    job = ProcrastinateJob.objects.get(id=job_id)
    assert (job.status, job.attempts) == ("failed", 1)
    assert mail.outbox == []
