"""`taiga.tasksqueue` stands alone: a project made by `django-admin startproject`, with only this
app (and Procrastinate's) added and one tasks module, defers a job and runs it with the app's own
worker command. The app is copied into the new project, without the rest of `taiga`, so an import
of anything else of ours would fail here."""

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.utils.processes import ROOT, TIMEOUT

TASKS_MODULE = """
from pathlib import Path

from taiga.tasksqueue.manager import manager


@manager.task
def note(path: str, text: str) -> None:
    Path(path).write_text(text)
"""


def settings_block(database: str) -> str:
    test_db = connection.settings_dict
    parameters = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": test_db["USER"],
        "PASSWORD": test_db["PASSWORD"],
        "HOST": test_db["HOST"],
        "PORT": test_db["PORT"],
    }
    return (
        f"\nDATABASES = {{'default': {parameters!r}}}\n"
        "INSTALLED_APPS += ['procrastinate.contrib.django', 'taiga.tasksqueue']\n"
        "TASKS_MODULES_PATHS = {'jobs'}\n"
    )


@pytest.fixture
def database():
    name = f"standalone_{uuid.uuid4().hex[:8]}"
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )


@pytest.mark.django_db
def test_a_fresh_project_with_only_this_app_runs_a_deferred_job(tmp_path, database):
    project = tmp_path / "mysite"
    project.mkdir()
    created = run(project, "-m", "django", "startproject", "mysite", str(project))
    assert created.returncode == 0, created.stderr
    shutil.copytree(
        ROOT / "taiga" / "tasksqueue",
        project / "taiga" / "tasksqueue",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (project / "taiga" / "__init__.py").write_text("")
    (project / "jobs.py").write_text(TASKS_MODULE)
    with (project / "mysite" / "settings.py").open("a") as settings:
        settings.write(settings_block(database))
    output = tmp_path / "note.txt"

    steps = [
        ("manage.py", "migrate", "-v", "0"),
        ("manage.py", "shell", "-c", f"import jobs; jobs.note.defer_sync({str(output)!r}, 'hi')"),
        ("manage.py", "tasksqueue", "worker", "--one-shot"),
    ]
    for step in steps:
        result = run(project, *step)
        assert result.returncode == 0, f"{' '.join(step)}:\n{result.stderr}"

    assert output.read_text() == "hi"
    status = run(project, "manage.py", "tasksqueue", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "tasks: OK - 3 registered from jobs (1), taiga.tasksqueue.tasks (2)" in status.stdout
