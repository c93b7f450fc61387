"""The app's own table: how often each job was rescued from a stalled worker."""

from django.db import models
from django.db.models.functions import Now
from procrastinate.contrib.django.models import ProcrastinateJob, ProcrastinateWorker


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


class JobAttempt(models.Model):
    """One run of a job that ended, and what it left behind: its error and traceback when it
    failed (any task), its return value (tasks of Django's `django.tasks`, whose every run is
    recorded). Written by the worker in the statement that records the outcome; read by
    `get_result` and the operators' tools; deleted with its job (retention included).
    """

    # No foreign key in the database: two triggers on procrastinate_jobs delete a job's records
    # with it (migration 0004).
    job = models.ForeignKey(
        ProcrastinateJob,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="attempt_records",
    )
    attempt = models.PositiveIntegerField()  # 1 for the first run
    # Procrastinate's id of the worker that ran it (kept after the worker's row is pruned).
    worker_id = models.BigIntegerField(null=True)
    outcome = models.CharField(max_length=16)  # succeeded, failed or aborted
    error_class = models.TextField(blank=True)  # dotted path of the exception's class
    traceback = models.TextField(blank=True)
    return_value = models.JSONField(null=True)
    finished_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ("job_id", "attempt", "id")

    def __str__(self) -> str:
        return f"job {self.job_id} attempt {self.attempt}: {self.outcome}"


class Job(ProcrastinateJob):
    """Procrastinate's jobs as the dashboard shows them (the admin's "Tasks queue" section)."""

    class Meta:
        proxy = True
        verbose_name = "job"
        ordering = ("-id",)
        # One per dashboard action (deleting finished jobs is Django's own delete_job).
        permissions = [
            ("retry_job", "Can retry failed jobs"),
            ("cancel_job", "Can cancel waiting jobs"),
            ("abort_job", "Can abort running jobs"),
            ("run_job_now", "Can run scheduled jobs now"),
        ]


class WorkerProcess(models.Model):
    """Who a registered worker is: Procrastinate's worker row holds only an id and a heartbeat.

    Written by the worker when it registers (`LeanWorker`); the row goes with Procrastinate's
    (migration 0007 declares the foreign key with ON DELETE CASCADE), so only registered workers
    have one.
    """

    worker = models.OneToOneField(
        ProcrastinateWorker,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="process",
    )
    name = models.CharField(max_length=255)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    concurrency = models.PositiveIntegerField()
    queues = models.TextField(blank=True)  # comma-separated; empty: every queue
    started_at = models.DateTimeField(db_default=Now())
    # Outages this process came back from before this run registered, and when the last began
    # (worker/outages.py); this run's `started_at` is when it ended.
    outages = models.PositiveIntegerField(db_default=0)
    last_outage_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"worker {self.worker_id}: {self.name} on {self.host} (pid {self.pid})"
