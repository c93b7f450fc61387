import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from taiga.users.models import PendingSignup, VerificationToken


def make_user(name: str, *, joined_days_ago: int, active: bool = False, **fields) -> User:
    joined = timezone.now() - datetime.timedelta(days=joined_days_ago)
    return User.objects.create(username=name, is_active=active, date_joined=joined, **fields)


def make_signup(name: str, *, days_ago: int) -> User:
    """An account as sign-up leaves it until it is verified: inactive, marked as pending."""
    user = make_user(name, joined_days_ago=days_ago)
    PendingSignup.objects.create(user=user, created_at=user.date_joined)
    return user


@pytest.fixture
def cleanup_rows() -> VerificationToken:
    """Rows the cleanups must sort out: an expired token of an old unverified sign-up (both go), an
    old unverified sign-up with a live token, a recent one, an old active account and old accounts
    an admin deactivated (all stay). Returns the live token."""
    expired = make_signup("expired", days_ago=10)
    VerificationToken.objects.create(
        user=expired, expires_at=timezone.now() - datetime.timedelta(days=8)
    )
    live = VerificationToken.objects.create(user=make_signup("pending", days_ago=10))
    make_signup("recent", days_ago=1)
    make_user("active", joined_days_ago=30, active=True)
    make_user("deactivated", joined_days_ago=30)
    make_user("deactivated-admin", joined_days_ago=30, is_staff=True, is_superuser=True)
    return live


SURVIVORS = ["active", "deactivated", "deactivated-admin", "pending", "recent"]
