"""`tasksqueue status`: one line per check, exit 1 when unhealthy, the same report as JSON.

The clock is pinned (NOW) and every time in the database is set relative to it, so ages and next
runs are exact. Jobs are written by Procrastinate's own defer, then moved to the state a test
needs with plain SQL, in the test's transaction.
"""

import datetime
import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.utils import timezone

from taiga.tasksqueue.discovery import discover_task_modules
from taiga.tasksqueue.manager import manager as tqmanager

NOW = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)
SAMPLE_APP_TASKS = {
    "taiga.emails.tasks.send_email",
    "taiga.users.tasks.clean_expired_tokens",
    "taiga.users.tasks.clean_unverified_users",
}
SEND_EMAIL = "taiga.emails.tasks.send_email"

from tests.tasksqueue.backends.django_tasks import add as DJANGO_ADD  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture(autouse=True)
def sample_app_tasks(monkeypatch):
    """Three of the sample apps' tasks, whatever else the apps or other test modules register."""
    tasks = {name: task for name, task in tqmanager.tasks.items() if name in SAMPLE_APP_TASKS}
    monkeypatch.setattr(tqmanager, "tasks", tasks)
    monkeypatch.setattr(tqmanager, "django_tasks", {})
    registry = tqmanager.app.periodic_registry
    periodic = {
        key: entry
        for key, entry in registry.periodic_tasks.items()
        if entry.task.name in SAMPLE_APP_TASKS
    }
    monkeypatch.setattr(registry, "periodic_tasks", periodic)


def job(
    task_name: str,
    queue: str,
    *,
    status: str = "todo",
    deferred_at: datetime.datetime = NOW,
    scheduled_at: datetime.datetime | None = None,
    worker: int | None = None,
) -> int:
    job_id = tqmanager.app.configure_task(task_name, queue=queue, schedule_at=scheduled_at).defer()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = %s, worker_id = %s WHERE id = %s",
            [status, worker, job_id],
        )
        cursor.execute(
            "UPDATE procrastinate_events SET at = %s WHERE job_id = %s AND type = 'deferred'",
            [deferred_at, job_id],
        )
    return job_id


def worker(last_heartbeat: datetime.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (%s) RETURNING id",
            [last_heartbeat],
        )
        (worker_id,) = cursor.fetchone()
    return int(worker_id)


def status(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("tasksqueue", "status", *args, stdout=out)
    except CommandError as error:
        out.write(f"stderr: {error}\n")
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def database_line() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        (number,) = cursor.fetchone()
    version = f"{number // 10000}.{number % 10000}"
    return f"database: OK - PostgreSQL {version}, database {connection.settings_dict['NAME']!r}"


def schema_line() -> str:
    applied = MigrationRecorder(connection).applied_migrations()
    count = sum(app in ("procrastinate", "tasksqueue") for app, _ in applied)
    return f"schema: OK - all {count} migrations applied"


TASKS_LINE = "tasks: OK - 3 registered from taiga.emails.tasks (1), taiga.users.tasks (2)"
PERIODIC_LINE = (
    'periodic: OK - taiga.users.tasks.clean_expired_tokens "0 0 * * *" next '
    '2030-01-02T00:00:00+00:00; taiga.users.tasks.clean_unverified_users "0 0 * * *" next '
    "2030-01-02T00:00:00+00:00"
)


def test_an_empty_queue_is_healthy():
    assert status() == (
        0,
        f"{database_line()}\n"
        f"{schema_line()}\n"
        f"{TASKS_LINE}\n"
        "queues: OK - no jobs\n"
        "workers: OK - 0 alive by heartbeat, no stalled jobs\n"
        f"{PERIODIC_LINE}\n"
        "orphans: OK - none\n",
    )


def test_jobs_ready_with_a_live_worker_are_healthy():
    job(SEND_EMAIL, "emails", deferred_at=NOW - datetime.timedelta(seconds=42))
    job(SEND_EMAIL, "emails", status="doing", worker=worker(NOW - datetime.timedelta(seconds=5)))

    code, out = status()

    assert code == 0
    assert out.splitlines()[3:5] == [
        "queues: OK - emails: 1 todo, 1 doing, oldest waiting 42s",
        "workers: OK - 1 alive by heartbeat, no stalled jobs",
    ]


def test_jobs_ready_and_no_worker_alive_is_unhealthy():
    job(SEND_EMAIL, "emails", deferred_at=NOW - datetime.timedelta(minutes=3, seconds=7))
    worker(NOW - datetime.timedelta(minutes=5))  # a worker that died

    code, out = status()

    assert code == 1
    assert out.splitlines()[3:] == [
        "queues: OK - emails: 1 todo, oldest waiting 3m 7s",
        "workers: FAIL - 0 alive by heartbeat; 1 job ready and no worker to run them; "
        "fix: start one: `manage.py tasksqueue worker`",
        PERIODIC_LINE,
        "orphans: OK - none",
        "stderr: Unhealthy: workers: 0 alive by heartbeat; 1 job ready and no worker to run "
        "them; fix: start one: `manage.py tasksqueue worker`",
    ]


ORPHANS_FIX = (
    "add the module that defines each task to TASKS_MODULES_PATHS, then restart the workers; for "
    "a task gone for good, `manage.py tasksqueue shell delete_jobs status=todo task=TASK`"
)


@pytest.fixture
def troubled_queue() -> dict[str, int]:
    """Jobs waiting, scheduled, stalled and orphaned, on three queues, with two workers."""
    alive, dead = (
        worker(NOW - datetime.timedelta(seconds=5)),
        worker(NOW - datetime.timedelta(minutes=5)),
    )
    return {
        "scheduled": job(SEND_EMAIL, "emails", scheduled_at=NOW - datetime.timedelta(minutes=5)),
        "oldest": job(
            SEND_EMAIL, "emails", deferred_at=NOW - datetime.timedelta(hours=2, seconds=30)
        ),
        "failed": job(SEND_EMAIL, "emails", status="failed"),
        "later": job(SEND_EMAIL, "emails", scheduled_at=NOW + datetime.timedelta(hours=1)),
        "running": job(SEND_EMAIL, "reports", status="doing", worker=alive),
        "stalled": job(SEND_EMAIL, "reports", status="doing", worker=dead),
        "abandoned": job(SEND_EMAIL, "reports", status="doing"),
        "orphan": job("gone.tasks.lost", "misc", deferred_at=NOW - datetime.timedelta(seconds=10)),
        "orphan_done": job("gone.tasks.lost", "misc", status="succeeded"),
        "orphan_failed": job("gone.tasks.other", "misc", status="failed"),
    }


def test_stalled_jobs_and_orphans_are_reported_one_line_each_and_exit_1(troubled_queue):
    stalled = f"{troubled_queue['stalled']}, {troubled_queue['abandoned']}"

    assert status() == (
        1,
        f"{database_line()}\n"
        f"{schema_line()}\n"
        f"{TASKS_LINE}\n"
        "queues: OK - emails: 3 todo, 1 failed, oldest waiting 2h 0m; "
        "misc: 1 todo, 1 succeeded, 1 failed, oldest waiting 10s; reports: 3 doing\n"
        f"workers: FAIL - 1 alive by heartbeat; 2 jobs stalled in doing (ids {stalled}), their "
        "worker stopped heartbeating; fix: once that worker is gone, retry them in "
        "`manage.py tasksqueue shell` (retry ID)\n"
        f"{PERIODIC_LINE}\n"
        "orphans: FAIL - 1 job waiting or running for tasks that no loaded module defines: "
        "gone.tasks.lost (1 todo); also 1 failed job: gone.tasks.other (1 failed); "
        f"fix: {ORPHANS_FIX}\n"
        "stderr: Unhealthy: workers: 1 alive by heartbeat; "
        f"2 jobs stalled in doing (ids {stalled}), their worker stopped heartbeating; "
        "fix: once that worker is gone, retry them in `manage.py tasksqueue shell` (retry ID) "
        "(and 1 more failing check, see above)\n",
    )


def test_json_is_the_same_report(troubled_queue):
    code, out = status("--json")
    document, stderr = out.split("stderr: ")
    report = json.loads(document)

    assert code == 1
    assert stderr.startswith("Unhealthy: workers: ")
    assert (report["healthy"], report["checked_at"]) == (False, "2030-01-01T12:00:00+00:00")
    assert [(check["name"], check["state"]) for check in report["checks"]] == [
        ("database", "ok"),
        ("schema", "ok"),
        ("tasks", "ok"),
        ("queues", "ok"),
        ("workers", "fail"),
        ("periodic", "ok"),
        ("orphans", "fail"),
    ]
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["tasks"]["data"] == {
        "registered": 3,
        "django_tasks": 0,
        "modules": {"taiga.emails.tasks": 1, "taiga.users.tasks": 2},
        "import_failures": [],
    }
    assert checks["queues"]["data"]["queues"] == [
        {
            "name": "emails",
            "jobs": {"todo": 3, "failed": 1},
            "ready": 2,
            "oldest_waiting_since": "2030-01-01T09:59:30+00:00",
            "oldest_waiting_seconds": 7230.0,
        },
        {
            "name": "misc",
            "jobs": {"todo": 1, "succeeded": 1, "failed": 1},
            "ready": 1,
            "oldest_waiting_since": "2030-01-01T11:59:50+00:00",
            "oldest_waiting_seconds": 10.0,
        },
        {
            "name": "reports",
            "jobs": {"doing": 3},
            "ready": 0,
            "oldest_waiting_since": None,
            "oldest_waiting_seconds": None,
        },
    ]
    assert checks["workers"]["data"] == {
        "alive": 1,
        "stalled": 1,
        "stalled_after_seconds": 60.0,
        "stalled_jobs": [troubled_queue["stalled"], troubled_queue["abandoned"]],
        "named": [],
    }
    assert checks["workers"]["fix"] == (
        "once that worker is gone, retry them in `manage.py tasksqueue shell` (retry ID)"
    )
    assert checks["periodic"]["data"]["periodic"] == [
        {
            "task": f"taiga.users.tasks.{name}",
            "periodic_id": "",
            "cron": "0 0 * * *",
            "next_run": "2030-01-02T00:00:00+00:00",
        }
        for name in ("clean_expired_tokens", "clean_unverified_users")
    ]
    assert checks["orphans"]["data"] == {
        "tasks": {"gone.tasks.lost": {"todo": 1}, "gone.tasks.other": {"failed": 1}},
        "to_run": 1,
        "failed": 1,
    }


def test_a_task_module_that_cannot_be_imported_is_unhealthy(monkeypatch):
    with override_settings(TASKS_MODULES_PATHS={"taiga.nosuchmodule"}):
        discovery = discover_task_modules(apps.get_app_configs())
    monkeypatch.setattr(tqmanager, "discovery", discovery)

    code, out = status()

    assert code == 1
    assert out.splitlines()[2] == (
        "tasks: FAIL - 3 registered from taiga.emails.tasks (1), taiga.users.tasks (2); cannot "
        "import 'taiga.nosuchmodule' (ModuleNotFoundError: No module named 'taiga.nosuchmodule'); "
        "fix: fix the module or remove it from TASKS_MODULES_PATHS (`manage.py check` says more)"
    )


def test_failed_jobs_of_unknown_tasks_are_reported_without_failing():
    job("gone.tasks.lost", "misc", status="failed")
    job("gone.tasks.lost", "misc", status="failed")
    job("gone.tasks.other", "misc", status="failed")
    job("gone.tasks.other", "misc", status="succeeded")  # history, not reported

    code, out = status()

    assert code == 0
    assert out.splitlines()[-1] == (
        "orphans: OK - 3 failed jobs of tasks that no loaded module defines: gone.tasks.lost "
        "(2 failed), gone.tasks.other (1 failed); they will not run again (retention deletes "
        "them; to clear or rerun them now: `manage.py tasksqueue shell delete_jobs|retry_jobs "
        "status=failed task=TASK`)"
    )


def test_jobs_of_unknown_tasks_still_to_run_fail_until_they_are_deleted():
    job("gone.tasks.lost", "misc", status="doing", worker=worker(NOW))
    job("gone.tasks.lost", "misc")
    job("gone.tasks.other", "misc", scheduled_at=NOW + datetime.timedelta(days=1))
    failing = (
        "orphans: FAIL - 3 jobs waiting or running for tasks that no loaded module defines: "
        f"gone.tasks.lost (1 todo, 1 doing), gone.tasks.other (1 todo); fix: {ORPHANS_FIX}"
    )

    code, out = status()

    assert (code, out.splitlines()[-2:]) == (
        1,
        [failing, "stderr: Unhealthy: " + failing.replace(": FAIL - ", ": ", 1)],
    )

    call_command("tasksqueue", "shell", "delete_jobs", "status=todo", "task=gone.tasks.other")
    call_command("tasksqueue", "shell", "delete_jobs", "status=todo", "task=gone.tasks.lost")
    with connection.cursor() as cursor:  # the worker ends the job it was running
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE status = 'doing'")

    code, out = status()

    assert (code, out.splitlines()[-1]) == (
        0,
        "orphans: OK - 1 failed job of tasks that no loaded module defines: gone.tasks.lost "
        "(1 failed); they will not run again (retention deletes them; to clear or rerun them "
        "now: `manage.py tasksqueue shell delete_jobs|retry_jobs status=failed task=TASK`)",
    )


def test_django_tasks_count_as_tasks_and_their_jobs_as_any_others(monkeypatch):
    monkeypatch.setattr(tqmanager, "django_tasks", {DJANGO_ADD.module_path: DJANGO_ADD})
    DJANGO_ADD.using(queue_name="emails").enqueue(1)
    _, out = status()
    lines = out.splitlines()
    assert (
        "tasks: OK - 4 registered (1 of django.tasks) from taiga.emails.tasks (1), "
        "taiga.users.tasks (2), tests.tasksqueue.backends.django_tasks (1)"
    ) in lines
    assert "orphans: OK - none" in lines
    [queues] = [line for line in lines if line.startswith("queues: ")]
    assert queues.startswith("queues: OK - emails: 1 todo, oldest waiting ")
