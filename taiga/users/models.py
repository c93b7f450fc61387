import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_LIFETIME = timedelta(days=2)


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _expiry() -> datetime:
    return timezone.now() + TOKEN_LIFETIME


class PendingSignup(models.Model):
    """An account that signed up and has not verified its email address yet.

    Created with the account and deleted at verification, so the cleanup deletes sign-ups that
    never verified and never an account that is inactive for another reason (an admin's choice).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="pending_signup",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"sign-up of {self.user_id} on {self.created_at:%Y-%m-%d %H:%M}"


class VerificationToken(models.Model):
    """A code sent by email that activates a new account until it expires."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verification_tokens"
    )
    key = models.CharField(max_length=64, unique=True, default=_new_key)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_expiry, db_index=True)

    def __str__(self) -> str:
        return f"token for {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"
