"""`/users/signup/` refuses bad bodies with a one-line JSON error, and keeps the verification code
out of the welcome email's job."""

import json

import pytest
from django.contrib.auth.models import User
from django.core import mail
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.users.models import PendingSignup, VerificationToken

pytestmark = pytest.mark.django_db

ADDRESS_ERROR = "'email' must be an email address of at most 254 characters"
ANN = {"username": "ann", "email": "ann@example.com"}


def signup(client, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/users/signup/", data, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("[1, 2]", "the body must be a JSON object"),
        ('"ann"', "the body must be a JSON object"),
        ({"username": "ann"}, ADDRESS_ERROR),
        ({**ANN, "username": 5}, "'username' must be a string"),
        ({**ANN, "username": ""}, "'username': This field cannot be blank."),
        (
            {**ANN, "username": "a" * 151},
            "'username': Ensure this value has at most 150 characters (it has 151).",
        ),
        (
            {**ANN, "username": "ann\x00"},
            "'username': Enter a valid username. This value may contain only letters, numbers, "
            "and @/./+/-/_ characters.",
        ),
        ({**ANN, "email": "not-an-address"}, ADDRESS_ERROR),
        ({**ANN, "email": "ann\x00@example.com"}, ADDRESS_ERROR),
        ({**ANN, "email": "ann@example.com\nBcc: bob@example.com"}, ADDRESS_ERROR),
        ({**ANN, "email": "a" * 250 + "@b.co"}, ADDRESS_ERROR),
        ({**ANN, "email": "ann\udfff@example.com"}, ADDRESS_ERROR),
        (
            {**ANN, "username": "ann\ud800"},
            "'username': Enter a valid username. This value may contain only letters, numbers, "
            "and @/./+/-/_ characters.",
        ),
    ],
    ids=[
        "json-array",
        "json-string",
        "no-email",
        "username-not-a-string",
        "username-blank",
        "username-151-characters",
        "username-with-nul",
        "not-an-address",
        "address-with-nul",
        "address-with-newline",
        "address-over-254",
        "address-with-lone-surrogate",
        "username-with-lone-surrogate",
    ],
)
def test_a_bad_body_is_a_400_with_a_json_error_and_no_account(client, body, error):
    response = signup(client, body)

    assert (response.status_code, response.json()) == (400, {"error": error})
    assert not User.objects.exists()
    assert not ProcrastinateJob.objects.exists()


def test_the_longest_username_is_accepted(client):
    assert signup(client, {**ANN, "username": "a" * 150}).status_code == 201


def test_the_verification_code_stays_out_of_the_job_arguments(client):
    response = signup(client, ANN)

    token = VerificationToken.objects.get()
    job = ProcrastinateJob.objects.get(id=response.json()["job_id"])
    assert job.args == {"user_id": token.user_id}
    assert token.key not in json.dumps(job.args)


def test_verifying_ends_the_pending_sign_up(client):
    signup(client, ANN)
    assert PendingSignup.objects.filter(user__username="ann").exists()

    client.post(f"/users/verify/{VerificationToken.objects.get().key}/")

    assert User.objects.get().is_active
    assert not PendingSignup.objects.exists()


def test_a_welcome_job_run_after_verification_sends_nothing(client, tqmanager):
    signup(client, ANN)
    client.post(f"/users/verify/{VerificationToken.objects.get().key}/")

    tqmanager.run_pending_jobs_sync()

    assert [job["status"] for job in tqmanager.jobs.values()] == ["succeeded"]
    assert mail.outbox == []
