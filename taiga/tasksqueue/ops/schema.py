"""The queue's database schema: the Django migrations of Procrastinate's app and of this one.

Procrastinate ships its schema as the migrations of the `procrastinate` app label; this project may
add its own under the `tasksqueue` label. `init` applies both, `status` reports what is pending, and
the worker and the shell refuse to start until nothing is.
"""

from dataclasses import dataclass
from io import StringIO

from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.exceptions import TasksQueueError
from taiga.tasksqueue.ops.database import connect

SCHEMA_APP_LABELS = ("procrastinate", "tasksqueue")
INIT_COMMAND = "manage.py tasksqueue init"


class SchemaNotLoaded(TasksQueueError):
    """Some of the schema's migrations are not applied."""


@dataclass(frozen=True)
class SchemaMigration:
    app_label: str
    name: str
    applied: bool

    def __str__(self) -> str:
        return f"{self.app_label}.{self.name}"


def _loader() -> MigrationLoader:
    return MigrationLoader(connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS])


def _labels(loader: MigrationLoader) -> list[str]:
    return [label for label in SCHEMA_APP_LABELS if label in loader.migrated_apps]


def schema_migrations() -> list[SchemaMigration]:
    """Every migration of the schema, in the order they apply, with its state in the database."""
    loader = _loader()
    labels = _labels(loader)
    graph = loader.graph
    applied = loader.applied_migrations or {}
    keys: dict[tuple[str, str], None] = {}  # ordered and without repeats
    for label in labels:
        for leaf in graph.leaf_nodes(label):
            keys.update(dict.fromkeys(key for key in graph.forwards_plan(leaf) if key[0] in labels))
    return [SchemaMigration(label, name, (label, name) in applied) for label, name in keys]


def pending_migrations() -> list[str]:
    return [str(migration) for migration in schema_migrations() if not migration.applied]


def require_schema() -> None:
    """Refuse, with the fix, unless the database answers and the schema is loaded."""
    connect()
    pending = pending_migrations()
    if pending:
        raise SchemaNotLoaded(
            f"The tasks queue schema is not loaded ({len(pending)} migrations pending); "
            f"run `{INIT_COMMAND}`"
        )


def apply_schema() -> list[str]:
    """Apply the pending migrations of the schema; return the ones applied."""
    pending = pending_migrations()
    if pending:
        for label in _labels(_loader()):
            # `migrate` rather than the executor alone: it does what a normal deploy does (checks
            # the migration history is consistent, sends the pre/post-migrate signals), and
            # applies what a migration of the schema depends on in other apps.
            call_command(
                "migrate",
                label,
                database=tq_settings.PROCRASTINATE_DATABASE_ALIAS,
                interactive=False,
                verbosity=0,
                stdout=StringIO(),
            )
    return pending
