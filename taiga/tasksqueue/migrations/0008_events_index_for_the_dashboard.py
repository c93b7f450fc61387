"""An index for the dashboard's throughput chart: the jobs that ended, by when.

Procrastinate indexes its events by job only; the chart counts the `succeeded` and `failed` events
of the last 24 hours, which without this reads every event (millions on a busy queue).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tasksqueue", "0007_worker_processes")]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX tasksqueue_events_ended_at ON procrastinate_events (at) "
                "WHERE type IN ('succeeded', 'failed')"
            ),
            reverse_sql="DROP INDEX tasksqueue_events_ended_at",
        )
    ]
