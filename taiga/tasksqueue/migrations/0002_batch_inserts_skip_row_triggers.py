"""Procrastinate's two per-row INSERT triggers on procrastinate_jobs skip the rows of a batch defer.

For every job inserted, these triggers run two PL/pgSQL functions: one inserts the job's
`deferred` event, the other sends two notifications whose payload carries the job's id. On a
`defer_many` of 1,000 jobs that was about half of the INSERT's time on the server. Our batch
statement (`taiga/tasksqueue/defer/insert.py`, `_INSERT_JOBS`) now writes the batch's `deferred`
events in one INSERT and one notification per queue itself (Procrastinate's worker reads only the
type of a `job_inserted` notification), and marks the transaction with the setting
`tasksqueue.inserting_batch` while it inserts, so that these triggers leave its rows alone.

Every other INSERT (single defers, Procrastinate's own, periodic defers) is unchanged: the setting
is unset there, so the triggers fire as Procrastinate made them. They keep their names, so that
Procrastinate's migrations find them. The reverse migration puts them back without the condition.
A contract test (test_procrastinate_contract.py) fails when a Procrastinate migration touches
these triggers again.
"""

from django.db import migrations

TRIGGERS = (
    (
        "procrastinate_jobs_notify_queue_job_inserted_v1",
        "procrastinate_notify_queue_job_inserted_v1",
    ),
    (
        "procrastinate_trigger_status_events_insert_v1",
        "procrastinate_trigger_function_status_events_insert_v1",
    ),
)
TODO = "new.status = 'todo'::procrastinate_job_status"
NOT_A_BATCH = "current_setting('tasksqueue.inserting_batch', true) IS DISTINCT FROM 'on'"


def _recreate(condition: str) -> str:
    return "\n".join(
        f"DROP TRIGGER {name} ON procrastinate_jobs;\n"
        f"CREATE TRIGGER {name} AFTER INSERT ON procrastinate_jobs\n"
        f"    FOR EACH ROW WHEN ({condition})\n"
        f"    EXECUTE PROCEDURE {function}();"
        for name, function in TRIGGERS
    )


class Migration(migrations.Migration):
    dependencies = [
        ("procrastinate", "0041_post_retry_failed_job"),
        ("tasksqueue", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(_recreate(f"{TODO} AND {NOT_A_BATCH}"), _recreate(TODO)),
    ]
