import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def mark_pending_signups(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Sign-ups made before this migration: only sign-up creates verification codes, so an inactive
    account that still holds one has not verified. Inactive accounts without one stay unmarked,
    and so are never deleted by the cleanup."""
    User = apps.get_model(settings.AUTH_USER_MODEL)
    PendingSignup = apps.get_model("users", "PendingSignup")
    unverified = User.objects.filter(is_active=False, verification_tokens__isnull=False).distinct()
    PendingSignup.objects.bulk_create(
        PendingSignup(user=user, created_at=user.date_joined) for user in unverified
    )


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PendingSignup",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="pending_signup",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                ),
            ],
        ),
        migrations.RunPython(mark_pending_signups, migrations.RunPython.noop),
    ]
