"""What a newcomer sees on a first run: `make setup` says what it does, the embedded database's
status is testable by its exit code, and psql reaches the embedded server through dbshell."""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.base.conftest import manage
from tests.utils import processes
from tests.utils.processes import ROOT, TIMEOUT
from tests.utils.waiting import wait_until


def test_make_setup_says_what_each_step_does(tmp_path):
    # A stand-in for the venv's python: records its arguments instead of installing anything.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    calls = tmp_path / "calls"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    python.chmod(0o755)

    result = subprocess.run(
        ["make", "--no-print-directory", "-B", "setup", f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"setup: upgrading pip in {venv}\n"
        "setup: installing the pinned requirements (requirements/dev.txt; about 30 s the first "
        "time)\n"
        "setup: done\n"
    )
    assert calls.read_text() == (
        "-m pip install --quiet --upgrade pip\n-m pip install --quiet -r requirements/dev.txt\n"
    )


def test_embeddeddb_status_exits_3_when_the_server_is_stopped_and_0_when_it_runs(data_dir):
    manage(data_dir, "embeddeddb", "stop")
    stopped = manage(data_dir, "embeddeddb", "status")
    assert (stopped.returncode, stopped.stdout) == (
        3,
        f"embedded PostgreSQL: stopped; data in {data_dir}\n",
    )

    assert manage(data_dir, "migrate", "-v", "0").returncode == 0
    assert manage(data_dir, "embeddeddb", "status").returncode == 0


def test_dbshell_opens_psql_on_the_embedded_server(data_dir: Path):
    result = manage(data_dir, "dbshell", "--", "-At", "-c", "SELECT current_database()")

    assert (result.returncode, result.stdout) == (0, "taiga\n"), result.stderr


def test_no_runtime_dir_warning_without_xdg_runtime_dir(data_dir):
    env = {"EMBEDDED_DB_DIR": str(data_dir)}
    without = ("DATABASE_URL", "XDG_RUNTIME_DIR")
    code = "from django.db import connection; connection.ensure_connection(); print('ok')"

    result = processes.run_python(
        "-W", "error", "manage.py", "shell", "-v", "0", "-c", code, env=env, without=without
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_make_run_stops_the_embedded_server_it_started(data_dir, tmp_path):
    manage(data_dir, "embeddeddb", "stop")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "EMBEDDED_DB_DIR": str(data_dir),
        "ADDRESS": f"127.0.0.1:{processes.closed_port()}",
    }
    log = tmp_path / "make-run.log"
    with log.open("w") as output:
        run = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches
        )
    try:
        wait_until(lambda: "web on http://" in log.read_text(), "make run to start")
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=TIMEOUT)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)

    # make itself dies of the SIGINT, as it does on Ctrl-C; what it ran stopped cleanly first.
    assert run.returncode == -signal.SIGINT, log.read_text()
    assert f"embedded PostgreSQL stopped; data kept in {data_dir}" in log.read_text()
    assert manage(data_dir, "embeddeddb", "status").returncode == 3


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://ann@db/taiga", "scheme 'mysql' is not one of postgres, postgresql, pgsql"),
        ("notaurl", "it has no scheme"),
        ("postgres://ann@db:port/taiga", "Port could not be cast to integer value as 'port'"),
        ("postgres://ann@db:5432/", "it names no database"),
    ],
)
def test_a_malformed_database_url_is_one_line_naming_the_setting_and_exit_1(url, problem):
    result = processes.manage("check", env={"DATABASE_URL": url})

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"DATABASE_URL is not a usable PostgreSQL URL ({problem}); set it like "
        "postgres://user:password@host:5432/dbname, or unset it to use the embedded PostgreSQL.\n"
    )
