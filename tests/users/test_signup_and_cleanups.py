"""The users app end to end: an async view that defers, and periodic cleanups run by a worker."""

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.users.models import VerificationToken
from taiga.users.tasks import clean_expired_tokens, clean_unverified_users
from tests.users.conftest import SURVIVORS

pytestmark = pytest.mark.django_db(transaction=True)


async def test_signup_defers_the_welcome_email_from_an_async_view(async_client):
    response = await async_client.post(
        "/users/signup/", {"username": "ann", "email": "ann@example.com"}, "application/json"
    )

    assert response.status_code == 201
    token = await VerificationToken.objects.select_related("user").aget()
    assert (token.user.username, token.user.is_active) == ("ann", False)
    job = await ProcrastinateJob.objects.aget(id=response.json()["job_id"])
    assert job.task_name == "taiga.users.tasks.send_welcome_email"
    # The code is a secret: jobs are kept for days and shown to operators, so the task looks it up.
    assert job.args == {"user_id": token.user.pk}

    again = await async_client.post(
        "/users/signup/", {"username": "ann", "email": "x@example.com"}, "application/json"
    )
    assert (again.status_code, again.json()) == (409, {"error": "username 'ann' is taken"})


def test_the_welcome_email_carries_the_code_that_activates_the_account(client, run_worker_once):
    client.post(
        "/users/signup/", {"username": "bob", "email": "bob@example.com"}, "application/json"
    )

    run_worker_once()

    [message] = mail.outbox
    key = VerificationToken.objects.get().key
    assert message.subject == "Welcome to Taiga, bob"
    assert f"Confirm your account with this code: {key}" in message.body
    assert client.post(f"/users/verify/{key}/").json() == {"verified": True}
    assert User.objects.get(username="bob").is_active
    assert client.post(f"/users/verify/{key}/").status_code == 404


def test_the_cleanups_delete_exactly_the_expired_rows(run_worker_once, cleanup_rows):
    clean_expired_tokens.defer_sync(timestamp=0)
    run_worker_once()
    assert list(VerificationToken.objects.values_list("pk", flat=True)) == [cleanup_rows.pk]

    clean_unverified_users.defer_sync(timestamp=0)
    run_worker_once()
    assert sorted(User.objects.values_list("username", flat=True)) == SURVIVORS
    statuses = set(ProcrastinateJob.objects.values_list("task_name", "status"))
    assert statuses == {
        ("taiga.users.tasks.clean_expired_tokens", "succeeded"),
        ("taiga.users.tasks.clean_unverified_users", "succeeded"),
    }


async def test_the_async_cleanup_runs_inline_when_called():
    user = await User.objects.acreate(username="old")
    await VerificationToken.objects.acreate(user=user, expires_at=timezone.now())
    live = await VerificationToken.objects.acreate(user=user)

    await clean_expired_tokens(timestamp=0)

    assert [token.pk async for token in VerificationToken.objects.all()] == [live.pk]
