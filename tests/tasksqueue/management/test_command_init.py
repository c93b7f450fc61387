"""`tasksqueue init`: load the schema, idempotently; `--info` lists it. And every subcommand on a
database where the schema was never loaded (a fresh one, created and dropped by the test)."""

from collections.abc import Iterator
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from psycopg import sql

from tests.utils.processes import database_url, manage

SCHEMA_APPS = ("procrastinate", "tasksqueue")
INIT = "manage.py tasksqueue init"


def schema_migrations_in_test_database() -> list[str]:
    """What pytest-django's migrate applied for the schema's apps (all of them)."""
    applied = MigrationRecorder(connection).applied_migrations()
    return sorted(f"{app}.{name}" for app, name in applied if app in SCHEMA_APPS)


@pytest.mark.django_db
def test_init_when_the_schema_is_loaded_applies_nothing():
    out = StringIO()
    call_command("tasksqueue", "init", stdout=out)

    count = len(schema_migrations_in_test_database())
    assert out.getvalue() == f"Nothing to apply: the schema is up to date ({count} migrations).\n"


@pytest.mark.django_db
def test_init_info_lists_every_migration_of_the_schema_as_applied():
    out = StringIO()
    call_command("tasksqueue", "init", "--info", stdout=out)

    *listed, total = out.getvalue().splitlines()
    expected = schema_migrations_in_test_database()
    assert listed[0] == "[X] procrastinate.0001_initial"
    assert sorted(listed) == [f"[X] {key}" for key in expected]
    assert total == f"{len(expected)} applied, 0 pending"


@pytest.fixture
def empty_database(django_db_setup, django_db_blocker) -> Iterator[str]:
    """The name of a new, empty database on the test server; dropped afterwards."""
    settings = connection.settings_dict
    name = f"{settings['NAME']}_empty"
    server = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with server:
        server.execute(drop)
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            server.execute(drop)


@pytest.mark.django_db
def test_a_database_without_the_schema_until_init_loads_it(empty_database):
    env = {"DATABASE_URL": database_url(empty_database)}
    schema = schema_migrations_in_test_database()
    count = len(schema)
    not_loaded = (
        f"CommandError: The tasks queue schema is not loaded ({count} migrations pending); "
        f"run `{INIT}`\n"
    )

    status = manage("tasksqueue", "status", env=env)
    lines = status.stdout.splitlines()
    pending = (
        f"{count} migrations pending: procrastinate.0001_initial, "
        "procrastinate.0002_drop_started_at_column, procrastinate.0003_drop_started_at_column "
        f"and {count - 3} more; fix: run `{INIT}`"
    )
    assert status.returncode == 1
    assert status.stderr == f"CommandError: Unhealthy: schema: {pending}\n"
    assert lines[0].startswith("database: OK - PostgreSQL ")
    assert lines[0].endswith(f", database {empty_database!r}")
    assert [lines[1], *lines[3:5], lines[6]] == [
        f"schema: FAIL - {pending}",
        "queues: SKIPPED - needs the schema",
        "workers: SKIPPED - needs the schema",
        "orphans: SKIPPED - needs the schema",
    ]

    for refused in (("worker", "--one-shot"), ("shell", "list_queues")):
        result = manage("tasksqueue", *refused, env=env)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", not_loaded)

    info = manage("tasksqueue", "init", "--info", env=env)
    *listed, total = info.stdout.splitlines()
    assert (info.returncode, info.stderr, total) == (0, "", f"0 applied, {count} pending")
    assert sorted(listed) == [f"[ ] {key}" for key in schema]

    init = manage("tasksqueue", "init", env=env)
    *applied, summary = init.stdout.splitlines()
    assert (init.returncode, init.stderr) == (0, "")
    assert applied == [line.replace("[ ]", "Applied") for line in listed]
    assert summary == f"Schema loaded: {count} migrations applied."

    again = manage("tasksqueue", "init", env=env)
    assert (again.returncode, again.stdout, again.stderr) == (
        0,
        f"Nothing to apply: the schema is up to date ({count} migrations).\n",
        "",
    )

    healthy = manage("tasksqueue", "status", env=env)
    assert (healthy.returncode, healthy.stderr) == (0, "")
    assert healthy.stdout.splitlines()[1] == f"schema: OK - all {count} migrations applied"
