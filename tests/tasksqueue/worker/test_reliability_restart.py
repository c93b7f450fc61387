"""A worker outlives a restart of its PostgreSQL server.

The server is an embedded one of this test's own (the shared server cannot be restarted under other
tests), driven with manage.py as an operator would: the worker keeps running while the server is
stopped, and runs the jobs deferred once it is back.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils import processes
from tests.utils.waiting import wait_until

TASKS = "tests.tasksqueue.connection_tasks"
DEFER = (
    "from tests.tasksqueue.connection_tasks import no_database\n"
    "no_database.defer_many_sync([() for _ in range({count})])\n"
)
COUNT = (
    "from procrastinate.contrib.django.models import ProcrastinateJob\n"
    "print(ProcrastinateJob.objects.filter(\n"
    "    task_name='tests.tasksqueue.connection_tasks.no_database', status='succeeded'\n"
    ").count())\n"
)


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "pg"
    yield path
    manage(path, "embeddeddb", "stop")


def env(data_dir: Path) -> dict[str, str]:
    return {"EMBEDDED_DB_DIR": str(data_dir), "TASKS_MODULES_PATHS": TASKS}


def manage(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return processes.manage(*args, env=env(data_dir), without=("DATABASE_URL",))


def succeeded(data_dir: Path) -> int:
    result = manage(data_dir, "shell", "-v", "0", "-c", COUNT)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def wait_for(condition, what: str, log: Path) -> None:
    """`wait_until`, slower and longer (a server restarts), failing with the worker's log."""
    wait_until(
        condition,
        what,
        timeout=processes.TIMEOUT * 2,
        interval=0.5,
        details=lambda: log.read_text()[-3000:],
    )


LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) ")


def test_the_worker_stays_up_through_a_server_restart_and_runs_the_jobs_after_it(
    data_dir, tmp_path
):
    assert manage(data_dir, "migrate", "-v", "0").returncode == 0
    assert manage(data_dir, "shell", "-c", DEFER.format(count=10)).returncode == 0
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "tasksqueue", "worker", "-c", "4"],
            cwd=processes.ROOT,
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for(lambda: succeeded(data_dir) == 10, "the first 10 jobs", log)

        assert manage(data_dir, "embeddeddb", "stop").returncode == 0
        wait_for(lambda: "database unavailable" in log.read_text(), "the worker to notice", log)
        assert worker.poll() is None

        # Deferring connects, which starts the server again.
        assert manage(data_dir, "shell", "-c", DEFER.format(count=10)).returncode == 0
        wait_for(lambda: succeeded(data_dir) == 20, "the 10 jobs deferred after", log)
        assert worker.poll() is None
        # `status`, and the dashboard from the same rows, tell that the worker rode through it.
        status = manage(data_dir, "tasksqueue", "status")
        workers = next(line for line in status.stdout.splitlines() if line.startswith("workers:"))
        assert re.search(
            r"; \S+ came back from 1 database outage, the last at \d{4}-\d\d-\d\d "
            r"\d\d:\d\d:\d\d UTC for \d+\.\d s, no stalled jobs$",
            workers,
        ), workers
    finally:
        worker.send_signal(signal.SIGTERM)
        exit_code = worker.wait(timeout=processes.TIMEOUT)

    assert exit_code == 0
    lines = log.read_text().splitlines()
    assert sum("database unavailable" in line for line in lines) >= 1
    # One line per event, each of its own, at the default level: no tracebacks.
    assert [line for line in lines if not LINE_START.match(line)] == []
