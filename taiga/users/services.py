"""Sign-up with email verification, and the cleanups that keep the tables small."""

from datetime import timedelta

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from taiga.users.models import PendingSignup, VerificationToken

# An account that was never verified is removed this long after sign-up.
UNVERIFIED_USER_LIFETIME = timedelta(days=7)


@sync_to_async
def signup(username: str, email: str) -> User:
    """Create an inactive account, marked as a pending sign-up, with its verification code."""
    with transaction.atomic():
        user = User.objects.create(username=username, email=email, is_active=False)
        PendingSignup.objects.create(user=user)
        VerificationToken.objects.create(user=user)
    return user


@sync_to_async
def verify(key: str) -> bool:
    token = (
        VerificationToken.objects.select_related("user")
        .filter(key=key, expires_at__gt=timezone.now())
        .first()
    )
    if token is None:
        return False
    with transaction.atomic():
        token.user.is_active = True
        token.user.save(update_fields=["is_active"])
        PendingSignup.objects.filter(user=token.user).delete()
        token.delete()
    return True


def welcome_email(user_id: int) -> tuple[str, dict[str, str]] | None:
    """The address and template context of `user_id`'s welcome email, or None when there is no
    code left to send (the account was verified or deleted, or its code expired)."""
    token = (
        VerificationToken.objects.select_related("user")
        .filter(user_id=user_id, expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )
    if token is None:
        return None
    return token.user.email, {"username": token.user.username, "token": token.key}


async def delete_expired_tokens() -> int:
    deleted, _ = await VerificationToken.objects.filter(expires_at__lte=timezone.now()).adelete()
    return deleted


def delete_unverified_users() -> int:
    """Delete the sign-ups older than UNVERIFIED_USER_LIFETIME that never verified and hold no live
    code. An account is inactive for other reasons too (an admin deactivated it): only the
    PendingSignup row made at sign-up says it never verified."""
    now = timezone.now()
    live_token = VerificationToken.objects.filter(user=OuterRef("pk"), expires_at__gt=now)
    stale = User.objects.filter(
        # An admin may activate a sign-up by hand, leaving its PendingSignup behind.
        is_active=False,
        pending_signup__created_at__lte=now - UNVERIFIED_USER_LIFETIME,
    ).exclude(Exists(live_token))
    deleted: int = stale.delete()[1].get("auth.User", 0)
    return deleted
