import datetime

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from taiga.users.models import VerificationToken


def make_user(name: str, *, joined_days_ago: int, active: bool = False) -> User:
    joined = timezone.now() - datetime.timedelta(days=joined_days_ago)
    return User.objects.create(username=name, is_active=active, date_joined=joined)


@pytest.fixture
def cleanup_rows() -> VerificationToken:
    """Rows the cleanups must sort out: an expired token of an old unverified user (both go), an
    old unverified user with a live token, a recent unverified one and an old active one (all stay).
    Returns the live token."""
    expired = make_user("expired", joined_days_ago=10)
    VerificationToken.objects.create(
        user=expired, expires_at=timezone.now() - datetime.timedelta(days=8)
    )
    live = VerificationToken.objects.create(user=make_user("pending", joined_days_ago=10))
    make_user("recent", joined_days_ago=1)
    make_user("active", joined_days_ago=30, active=True)
    return live


SURVIVORS = ["active", "pending", "recent"]
