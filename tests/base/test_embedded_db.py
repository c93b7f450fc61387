"""The embedded PostgreSQL used when DATABASE_URL is unset, driven as a user would: manage.py."""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import psutil

from tests.base.conftest import manage

SHOW_SERVER = (
    "from django.db import connection\n"
    "with connection.cursor() as c:\n"
    "    c.execute('SELECT pg_postmaster_start_time(), current_database()')\n"
    "    print(*c.fetchone(), sep='|')\n"
)


def test_check_does_not_start_the_server(data_dir):
    result = manage(data_dir, "check")

    assert result.returncode == 0, result.stderr
    assert not (data_dir / "postmaster.pid").exists()
    assert manage(data_dir, "embeddeddb", "status").stdout == (
        f"embedded PostgreSQL: stopped; data in {data_dir}\n"
    )


def test_processes_starting_at_once_share_one_server_and_one_database(data_dir):
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: manage(data_dir, "shell", "-c", SHOW_SERVER), range(3)))

    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    outputs = {r.stdout.strip().splitlines()[-1] for r in results}
    assert len(outputs) == 1  # same server start time, same database
    assert outputs.pop().endswith("|taiga")
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    assert manage(data_dir, "embeddeddb", "status").stdout == (
        f"embedded PostgreSQL: running (pid {pid}); data in {data_dir}\n"
    )


def test_migrate_works_on_the_embedded_server(data_dir):
    result = manage(data_dir, "migrate", "--noinput", "-v", "0")

    assert result.returncode == 0, result.stderr
    applied = manage(data_dir, "showmigrations", "procrastinate", "--plan")
    assert "[X]  procrastinate.0041_post_retry_failed_job" in applied.stdout
    assert "[ ]" not in applied.stdout


def test_stop_then_start_again_over_a_stale_pid_file(data_dir):
    assert manage(data_dir, "embeddeddb", "stop").stdout == (
        f"embedded PostgreSQL stopped; data kept in {data_dir}\n"
    )
    assert manage(data_dir, "embeddeddb", "stop").stdout == (
        f"embedded PostgreSQL was not running; data in {data_dir}\n"
    )
    # A server killed without cleaning up leaves its pid file; the pid may since belong to any
    # other process (here: this test run).
    (data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{data_dir}\n")

    result = manage(data_dir, "shell", "-c", SHOW_SERVER)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("|taiga")
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    assert psutil.Process(pid).name() == "postgres"


def test_a_standalone_backends_negative_pid_file_left_behind_is_cleared(data_dir):
    manage(data_dir, "embeddeddb", "stop")
    # initdb's and single-user backends write their pid negated; one killed leaves the file.
    (data_dir / "postmaster.pid").write_text(f"-{dead_pid()}\n{data_dir}\n")

    result = manage(data_dir, "shell", "-c", SHOW_SERVER)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("|taiga")
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    assert psutil.Process(pid).name() == "postgres"


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
