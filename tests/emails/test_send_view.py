"""`/emails/send/` sends only for staff, behind CSRF protection, and refuses bad bodies with a
one-line JSON error before any job is written."""

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from procrastinate.contrib.django.models import ProcrastinateJob

pytestmark = pytest.mark.django_db

URL = "/emails/send/"
EMAIL = {"email": "ann@example.com", "context": {"subject": "Hello", "message": "Body text"}}
ADDRESS_ERROR = "'email' must be an email address of at most 254 characters"
CONTEXT_ERROR = "'context' must be an object of strings"
NUL_ERROR = "'context' must not contain NUL characters or lone surrogates"
SUBJECT_ERROR = "'context' makes the subject several lines long; it must be one line"


def post(client, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data, content_type="application/json", **extra)


def test_an_anonymous_caller_cannot_send_emails(client):
    response = post(client, EMAIL)

    assert (response.status_code, response.json()) == (
        403,
        {"error": "only staff may send emails: log in first"},
    )
    assert not ProcrastinateJob.objects.exists()


def test_a_user_who_is_not_staff_cannot_send_emails(client):
    client.force_login(User.objects.create(username="ann"))

    assert post(client, EMAIL).status_code == 403
    assert not ProcrastinateJob.objects.exists()


def test_staff_send_after_logging_in_with_the_csrf_token_and_not_without_it():
    """The README's curl session: a CSRF cookie, the admin's login, then the email."""
    User.objects.create_user("staff", password="a long password", is_staff=True)
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")
    login = browser.post(
        "/admin/login/",
        {"username": "staff", "password": "a long password"},
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert login.status_code == 302

    forged = post(browser, EMAIL)
    sent = post(browser, EMAIL, headers={"X-CSRFToken": browser.cookies["csrftoken"].value})

    assert forged.status_code == 403
    assert b"CSRF" in forged.content
    assert sent.status_code == 202
    assert list(ProcrastinateJob.objects.values_list("id", flat=True)) == [sent.json()["job_id"]]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("[1, 2]", "the body must be a JSON object"),
        ('"text"', "the body must be a JSON object"),
        ("{", "the body must be a JSON object"),
        ("[" * 100_000, "the body must be a JSON object"),
        (b"\xff\xfe", "the body must be a JSON object"),
        ({"email": "not-an-address"}, ADDRESS_ERROR),
        ({"email": "a" * 250 + "@b.co"}, ADDRESS_ERROR),
        ({"email": "ann\x00@example.com"}, ADDRESS_ERROR),
        ({"email": "ann@example.com\nBcc: bob@example.com"}, ADDRESS_ERROR),
        ({"email": '"ann\x0bbob"@example.com'}, ADDRESS_ERROR),
        (
            {"email": "a@b.co", "template": "nope"},
            "'template' must be one of ['notice', 'welcome']",
        ),
        (
            {"email": "a@b.co", "template": ["notice"]},
            "'template' must be one of ['notice', 'welcome']",
        ),
        ({"email": "a@b.co", "context": [1]}, CONTEXT_ERROR),
        ({"email": "a@b.co", "context": {"message": {"nested": "x"}}}, CONTEXT_ERROR),
        (
            {"email": "a@b.co", "context": {"message": "a\x00b"}},
            NUL_ERROR,
        ),
        (
            {"email": "a@b.co", "context": {"a\x00": "b"}},
            NUL_ERROR,
        ),
        ({"email": "a@b.co", "context": {"message": "a\ud800b"}}, NUL_ERROR),
        ({"email": "ann\ud800@example.com"}, ADDRESS_ERROR),
        ({"email": "a@b.co", "context": {"subject": "Hi\nBcc: bob@example.com"}}, SUBJECT_ERROR),
        ({"email": "a@b.co", "context": {"subject": "Hi\r\nX-Spam: no"}}, SUBJECT_ERROR),
        ({"email": "a@b.co", "context": {"subject": "Hi\u2028there"}}, SUBJECT_ERROR),
        (
            {"email": "a@b.co", "template": "welcome", "context": {"username": "a\nb"}},
            SUBJECT_ERROR,
        ),
    ],
    ids=[
        "json-array",
        "json-string",
        "truncated-json",
        "nested-100000-deep",
        "not-utf8",
        "not-an-address",
        "address-over-254",
        "address-with-nul",
        "address-with-newline",
        "address-with-vertical-tab",
        "unknown-template",
        "template-a-list",
        "context-a-list",
        "context-nested",
        "context-value-with-nul",
        "context-key-with-nul",
        "context-with-lone-surrogate",
        "address-with-lone-surrogate",
        "subject-with-newline",
        "subject-with-crlf",
        "subject-with-line-separator",
        "welcome-username-with-newline",
    ],
)
def test_a_bad_body_is_a_400_with_a_json_error_and_no_job(staff_client, body, error):
    response = post(staff_client, body)

    assert (response.status_code, response.json()) == (400, {"error": error})
    assert not ProcrastinateJob.objects.exists()


@override_settings(TASKSQUEUE_MAX_ARGS_BYTES=1000)
def test_a_context_over_the_job_size_limit_is_a_413(staff_client):
    response = post(staff_client, {"email": "a@b.co", "context": {"message": "x" * 1000}})

    assert (response.status_code, response.json()) == (
        413,
        {
            "error": "'context' is too large: the email's job holds at most 1000 bytes of JSON "
            "(TASKSQUEUE_MAX_ARGS_BYTES)"
        },
    )
    assert not ProcrastinateJob.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_body_over_the_upload_limit_is_a_413(staff_client):
    response = post(staff_client, {"email": "a@b.co", "context": {"message": "x" * 100}})

    assert (response.status_code, response.json()) == (
        413,
        {"error": "the body is over 100 bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"},
    )


def test_a_one_line_subject_with_any_other_text_is_accepted(staff_client):
    context = {"subject": "Tab\there, «quotes» & <marks>", "message": "Line 1\nLine 2"}

    response = post(staff_client, {"email": "ann@example.com", "context": context})

    assert response.status_code == 202
    job = ProcrastinateJob.objects.get()
    assert job.args["context"] == context
