"""Sign-up with email verification, and the cleanups that keep the tables small."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef
from django.utils import timezone

from taiga.users.models import VerificationToken

# An account that was never verified is removed this long after sign-up.
UNVERIFIED_USER_LIFETIME = timedelta(days=7)


async def signup(username: str, email: str) -> VerificationToken:
    user = await User.objects.acreate(username=username, email=email, is_active=False)
    return await VerificationToken.objects.acreate(user=user)


async def verify(key: str) -> bool:
    token = (
        await VerificationToken.objects.select_related("user")
        .filter(key=key, expires_at__gt=timezone.now())
        .afirst()
    )
    if token is None:
        return False
    token.user.is_active = True
    await token.user.asave(update_fields=["is_active"])
    await token.adelete()
    return True


async def delete_expired_tokens() -> int:
    deleted, _ = await VerificationToken.objects.filter(expires_at__lte=timezone.now()).adelete()
    return deleted


def delete_unverified_users() -> int:
    """Delete inactive accounts older than UNVERIFIED_USER_LIFETIME that hold no live token."""
    now = timezone.now()
    live_token = VerificationToken.objects.filter(user=OuterRef("pk"), expires_at__gt=now)
    stale = User.objects.filter(
        is_active=False, date_joined__lte=now - UNVERIFIED_USER_LIFETIME
    ).exclude(Exists(live_token))
    deleted: int = stale.delete()[1].get("auth.User", 0)
    return deleted
