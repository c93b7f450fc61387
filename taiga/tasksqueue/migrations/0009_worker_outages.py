"""A worker process's outages (worker/outages.py): how many it came back from, the last one's start."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasksqueue", "0008_events_index_for_the_dashboard"),
    ]

    operations = [
        migrations.AddField(
            model_name="workerprocess",
            name="last_outage_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="workerprocess",
            name="outages",
            field=models.PositiveIntegerField(db_default=0),
        ),
    ]
