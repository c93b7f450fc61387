"""The cleanup of unverified users deletes the sign-ups that never verified, no other account."""

import datetime
import importlib

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps
from django.contrib.auth.models import User
from django.utils import timezone

from taiga.users import services
from taiga.users.models import PendingSignup, VerificationToken
from tests.users.conftest import make_signup, make_user

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - datetime.timedelta(days=30)


def usernames():
    return sorted(User.objects.values_list("username", flat=True))


def test_the_cleanup_deletes_old_sign_ups_that_never_verified():
    make_signup("no-code-left", days_ago=8)
    expired = make_signup("expired-code", days_ago=8)
    VerificationToken.objects.create(user=expired, expires_at=timezone.now())
    make_signup("recent", days_ago=6)

    assert services.delete_unverified_users() == 2
    assert usernames() == ["recent"]
    assert list(PendingSignup.objects.values_list("user__username", flat=True)) == ["recent"]


def test_the_cleanup_never_deletes_an_account_deactivated_for_another_reason():
    make_user("deactivated", joined_days_ago=30)
    make_user("deactivated-superuser", joined_days_ago=30, is_staff=True, is_superuser=True)
    # Signed up and verified long ago, deactivated since.
    user = async_to_sync(services.signup)(username="verified", email="v@example.com")
    async_to_sync(services.verify)(VerificationToken.objects.get(user=user).key)
    User.objects.filter(pk=user.pk).update(is_active=False, date_joined=LONG_AGO)

    assert services.delete_unverified_users() == 0
    assert usernames() == ["deactivated", "deactivated-superuser", "verified"]


def test_a_sign_up_an_admin_activated_by_hand_is_kept():
    user = make_signup("activated-by-hand", days_ago=30)
    User.objects.filter(pk=user.pk).update(is_active=True)

    assert services.delete_unverified_users() == 0


def test_the_migration_marks_the_inactive_accounts_that_still_hold_a_code():
    migration = importlib.import_module("taiga.users.migrations.0002_pendingsignup")
    unverified = make_user("unverified", joined_days_ago=3)
    VerificationToken.objects.create(user=unverified, expires_at=timezone.now())
    VerificationToken.objects.create(user=unverified)
    make_user("deactivated", joined_days_ago=30)
    VerificationToken.objects.create(user=make_user("active", joined_days_ago=3, active=True))

    migration.mark_pending_signups(apps, None)

    assert list(PendingSignup.objects.values_list("user__username", "created_at")) == [
        ("unverified", unverified.date_joined)
    ]
