"""Deferring through PgBouncer 1.18 in transaction mode, while workers LISTEN on a direct URL.

The web side is a process whose DATABASE_URL is PgBouncer with `disable_server_side_cursors`, as
Django's docs ask behind transaction pooling; its defers (sync, in and out of a transaction, async
over the event loop's connections, batches) go through one server connection that every client
shares, so a statement prepared, or session state left, by one client would break another's.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.utils.pgbouncer import pgbouncer, url_through
from tests.utils.processes import ROOT, TIMEOUT, database_url, manage
from tests.utils.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = "tests.tasksqueue.sample_tasks"
ROUNDS = 8  # each of the loop's 4 connections runs the INSERT more than psycopg's threshold (5)
DEFERS = """
import asyncio
from django.db import transaction
from tests.tasksqueue.sample_tasks import add, double

ids = [add.defer_sync(n) for n in range(8)]
with transaction.atomic():
    ids += [add.defer_sync(100 + n) for n in range(8)]
ids += add.defer_many_sync([(200 + n,) for n in range(8)])

async def concurrently():
    deferred = []
    for round in range({rounds}):
        deferred += await asyncio.gather(*(double.defer(round * 4 + n) for n in range(4)))
    deferred += await double.defer_many([(900,), (901,)])
    return deferred

ids += asyncio.run(concurrently())
print(len(ids))
"""


def pooled_url(port: int) -> str:
    """The test database through PgBouncer, flagged as Django's docs ask behind it."""
    return url_through(port) + "?disable_server_side_cursors=true"


def defer_through(url: str) -> subprocess.CompletedProcess[str]:
    return manage(
        "shell",
        "-v",
        "0",
        "-c",
        DEFERS.format(rounds=ROUNDS),
        env={"DATABASE_URL": url, "TASKS_MODULES_PATHS": TASKS},
    )


def test_every_kind_of_defer_goes_through_pgbouncer_in_transaction_mode():
    with pgbouncer("transaction", pool_size=1) as port:
        result = defer_through(pooled_url(port))

    assert result.returncode == 0, result.stderr
    expected = 8 * 3 + ROUNDS * 4 + 2
    assert result.stdout.split() == [str(expected)]
    assert ProcrastinateJob.objects.filter(status="todo").count() == expected
    assert sorted(ProcrastinateJob.objects.values_list("task_name", flat=True).distinct()) == [
        "tests.tasksqueue.sample_tasks.add",
        "tests.tasksqueue.sample_tasks.double",
    ]


def start_worker(env: dict[str, str], log: Path, *options: str) -> subprocess.Popen[bytes]:
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "tasksqueue", "worker", *options],
            cwd=ROOT,
            env={**os.environ, **env, "TASKS_MODULES_PATHS": TASKS},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    worker.wait(TIMEOUT)


def test_a_worker_listening_on_its_own_url_is_woken_by_defers_through_pgbouncer(tmp_path):
    log = tmp_path / "worker.log"
    with pgbouncer("transaction", pool_size=2) as port:
        # Its tasks use PgBouncer too; only the worker's own connections go direct. A poll every
        # 10 minutes: only a notification can wake it within the wait below.
        worker = start_worker(
            {"DATABASE_URL": pooled_url(port), "TASKSQUEUE_WORKER_DATABASE_URL": database_url()},
            log,
            "--poll-interval",
            "600",
        )
        try:
            wait_until(
                lambda: " started on " in log.read_text(),
                "the worker's start",
                details=log.read_text,
            )
            assert defer_through(pooled_url(port)).returncode == 0
            wait_until(
                lambda: ProcrastinateJob.objects.exclude(status="succeeded").count() == 0,
                "every job to succeed",
                interval=0.1,
                details=log.read_text,
            )
        finally:
            stop(worker)
    assert worker.returncode == 0, log.read_text()
    assert "heard nothing" not in log.read_text()


def test_a_worker_listening_through_pgbouncer_in_transaction_mode_says_it_hears_nothing(
    tmp_path,
):
    log = tmp_path / "worker.log"
    with pgbouncer("transaction", pool_size=2) as port:
        worker = start_worker({"DATABASE_URL": pooled_url(port)}, log)
        try:
            wait_until(
                lambda: "heard nothing" in log.read_text(),
                "the probe's warning",
                details=log.read_text,
            )
        finally:
            stop(worker)
    warning = next(line for line in log.read_text().splitlines() if "heard nothing" in line)
    assert warning.endswith(
        "its LISTEN connection heard nothing in 2s (a pooler in transaction mode?); jobs are "
        "found only by polling every 5s; set TASKSQUEUE_WORKER_DATABASE_URL to a direct or "
        "session-mode connection, or run with --no-listen"
    )
