"""The app's own table: how often each job was rescued from a stalled worker."""

from django.db import models
from procrastinate.contrib.django.models import ProcrastinateJob


class JobRescue(models.Model):
    """How often a job was put back in the queue after its worker stopped heartbeating.

    Procrastinate's `attempts` counts ordinary retries too, so rescues are counted here; the row
    goes away with its job.
    """

    # The foreign key is declared in SQL (migration 0001) with ON DELETE CASCADE, because jobs are
    # deleted by Procrastinate's SQL and by retention, never through the ORM.
    job = models.OneToOneField(
        ProcrastinateJob,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="rescue",
    )
    rescues = models.PositiveIntegerField(default=0)
    last_rescued_at = models.DateTimeField(auto_now=True)
    # Why the job was given up on, when it was (empty while it is still being rescued).
    failure_reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"job {self.job_id}: rescued {self.rescues} times"
