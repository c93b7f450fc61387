"""Running the project's commands in subprocesses, as a user would, for tests."""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0  # bounds every wait; no test asserts on how long something took


def database_url(name: str | None = None) -> str:
    """DATABASE_URL for a subprocess: the test database, or `name` on the same server (the
    embedded one too: its unix socket goes in the query string)."""
    settings = connection.settings_dict
    auth = quote(settings["USER"], safe="")
    if settings["PASSWORD"]:
        auth += ":" + quote(settings["PASSWORD"], safe="")
    database = quote(name or settings["NAME"], safe="")
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    if host.startswith("/"):
        return f"postgres://{auth}@/{database}?host={quote(host)}&port={port}"
    return f"postgres://{auth}@{host}:{port}/{database}"


def with_query(url: str, query: str) -> str:
    """`url` with `query` ("name=value&...") added to its query string, if it has one already
    (the embedded server's URL names its socket there)."""
    return f"{url}{'&' if '?' in url else '?'}{query}"


def tcp_server_only() -> None:
    """Skip, in one line, a test that must reach the test database over TCP."""
    if (connection.settings_dict["HOST"] or "").startswith("/"):
        pytest.skip(
            "needs the test database on a TCP server (the embedded one has only a unix socket); "
            "CI runs it with DATABASE_URL"
        )


def run_python(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    without: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `python ARGS` in the project, with `env` added to this environment and the variables
    named in `without` taken out of it."""
    environment = {k: v for k, v in os.environ.items() if k not in without}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**environment, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )


def manage(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    without: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `python manage.py ARGS` in the project (see `run_python`)."""
    return run_python("manage.py", *args, env=env, stdin=stdin, without=without)


def closed_port() -> int:
    """A local TCP port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_worker_once(*task_modules: str) -> subprocess.CompletedProcess[str]:
    """A real worker in a process of its own, on the test database, until no job is ready;
    `task_modules` are imported as TASKS_MODULES_PATHS."""
    return manage(
        "tasksqueue",
        "worker",
        "--one-shot",
        env={"DATABASE_URL": database_url(), "TASKS_MODULES_PATHS": ",".join(task_modules)},
    )
