"""`tasksqueue status` names the live workers (HOST:PID unless named) and the connections they
open at most, against the server's max_connections."""

import os
import signal
import socket
import subprocess
import sys

import pytest
from django.db import connection

from taiga.tasksqueue.admin import overview
from tests.utils.processes import ROOT, TIMEOUT, database_url
from tests.utils.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def workers_line() -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "tasksqueue", "status"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    ).stdout
    return next(line for line in out.splitlines() if line.startswith("workers: "))


def max_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        return int(cursor.fetchone()[0])


def start_worker(*options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "tasksqueue", "worker", *options],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def registered() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasksqueue_workerprocess")
        return int(cursor.fetchone()[0])


def test_status_names_each_live_worker_and_the_connections_they_open_at_most():
    first = start_worker("-c", "10")
    second = start_worker("-c", "2", "--name", "reports-worker")
    try:
        wait_until(lambda: registered() == 2, "both workers to register")
        line = workers_line()
    finally:
        for worker in (first, second):
            worker.send_signal(signal.SIGTERM)
        for worker in (first, second):
            worker.wait(TIMEOUT)
    names = [
        f"{socket.gethostname()}:{first.pid} at concurrency 10",
        "reports-worker at concurrency 2",
    ]
    if line.index("reports-worker") < line.index(f":{first.pid}"):
        names.reverse()  # registered in the other order
    # Each: 3 pooled + 1 LISTEN, concurrency + 1 for its tasks, 4 for async defers.
    assert line == (
        f"workers: OK - 2 alive by heartbeat ({', '.join(names)}: up to {19 + 11} database "
        f"connections of max_connections {max_connections()}, 4 for the queue, concurrency + 1 "
        "for the tasks and 4 for async defers per worker), no stalled jobs"
    )


def test_a_worker_is_named_host_and_pid_in_the_dashboards_table():
    worker = start_worker()
    try:
        wait_until(lambda: registered() == 1, "the worker to register")
        [row] = overview.workers()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(TIMEOUT)
    assert (row["name"], row["host"], row["pid"]) == (
        f"{socket.gethostname()}:{worker.pid}",
        socket.gethostname(),
        worker.pid,
    )
