"""The users app tested with the tqmanager toolkit: the async signup view defers the welcome email,
and the cleanup tasks run against the test's rows."""

import pytest
from django.contrib.auth.models import User
from django.core import mail

from taiga.users.models import VerificationToken
from taiga.users.tasks import clean_expired_tokens, clean_unverified_users, send_welcome_email
from tests.users.conftest import SURVIVORS


# Async tests that use the ORM need a transactional database (pytest-django runs their queries on
# another thread than the test's transaction); tasks then see the committed rows.
@pytest.mark.django_db(transaction=True)
async def test_signup_defers_a_welcome_email_that_the_toolkit_sends(async_client, tqmanager):
    response = await async_client.post(
        "/users/signup/", {"username": "ann", "email": "ann@example.com"}, "application/json"
    )

    assert response.status_code == 201
    key, user_id = await VerificationToken.objects.values_list("key", "user_id").aget()
    [job] = tqmanager.pending_jobs
    assert job["id"] == response.json()["job_id"]
    assert tqmanager.jobs_for(send_welcome_email) == [job]
    assert job["args"] == {"user_id": user_id}

    await tqmanager.run_pending_jobs()

    assert [row["id"] for row in tqmanager.succeeded_jobs] == [job["id"]]
    [message] = mail.outbox
    assert message.subject == "Welcome to Taiga, ann"
    assert f"Confirm your account with this code: {key}" in message.body


# A sync test needs no transactional database: the toolkit runs tasks in the test's thread, so
# they see its rows, and their deletions roll back with it.
@pytest.mark.django_db
def test_the_cleanup_tasks_delete_exactly_the_expired_rows(tqmanager, cleanup_rows):
    clean_expired_tokens.defer_sync(timestamp=0)
    clean_unverified_users.defer_sync(timestamp=0)
    tqmanager.run_pending_jobs_sync()

    assert list(VerificationToken.objects.values_list("pk", flat=True)) == [cleanup_rows.pk]
    assert sorted(User.objects.values_list("username", flat=True)) == SURVIVORS
    assert [(job["task_name"], job["status"]) for job in tqmanager.jobs.values()] == [
        ("taiga.users.tasks.clean_expired_tokens", "succeeded"),
        ("taiga.users.tasks.clean_unverified_users", "succeeded"),
    ]
