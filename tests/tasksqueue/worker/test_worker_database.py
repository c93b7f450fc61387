"""TASKSQUEUE_WORKER_DATABASE_URL: where a worker's own connections go, its checks, and when the
queue's connections prepare statements; a worker that polls instead of listening (--no-listen)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from procrastinate.contrib.django import connector_params
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue.checks import check_settings
from taiga.tasksqueue.connection_params import (
    PREPARE_THRESHOLD,
    queue_connection_params,
    worker_connection_params,
)
from tests.tasksqueue.sample_tasks import add
from tests.utils.processes import ROOT, TIMEOUT, database_url, manage, with_query
from tests.utils.waiting import wait_until

TASKS = "tests.tasksqueue.sample_tasks"
APPLICATION_NAME = "tasksqueue-worker-url-test"


@pytest.fixture
def database_settings():
    """The default database's settings, put back as they were after the test."""
    settings = connection.settings_dict
    saved = {**settings, "OPTIONS": dict(settings["OPTIONS"])}
    yield settings
    settings.clear()
    settings.update(saved)


def test_without_the_setting_a_worker_connects_as_django_does_and_prepares_statements():
    conninfo, params = worker_connection_params("default")

    assert conninfo == ""
    assert params == {**connector_params("default"), "prepare_threshold": PREPARE_THRESHOLD}


@override_settings(TASKSQUEUE_WORKER_DATABASE_URL="postgres://w@db1:5432,db2:5432/app")
def test_with_the_setting_a_worker_connects_there_whatever_django_uses():
    assert worker_connection_params("default") == (
        "postgres://w@db1:5432,db2:5432/app",
        {"prepare_threshold": PREPARE_THRESHOLD},
    )


def test_behind_a_transaction_pooler_the_queues_connections_prepare_nothing(database_settings):
    database_settings["DISABLE_SERVER_SIDE_CURSORS"] = True

    assert queue_connection_params("default")["prepare_threshold"] is None
    assert worker_connection_params("default")[1]["prepare_threshold"] is None


def test_a_prepare_threshold_in_options_wins_over_the_pooler_flag(database_settings):
    database_settings["DISABLE_SERVER_SIDE_CURSORS"] = True
    database_settings["OPTIONS"]["prepare_threshold"] = 2

    assert queue_connection_params("default")["prepare_threshold"] == 2


def test_workers_listening_through_a_transaction_pooler_is_warning_w001(database_settings):
    database_settings["DISABLE_SERVER_SIDE_CURSORS"] = True

    [warning] = check_settings()
    assert warning.id == "tasksqueue.W001"
    assert warning.msg == (
        "Workers LISTEN through the database 'default', which DISABLE_SERVER_SIDE_CURSORS marks "
        "as reached through a pooler in transaction mode: LISTEN hears nothing there, so workers "
        "find new jobs only when they poll."
    )
    with override_settings(TASKSQUEUE_WORKER_DATABASE_URL="postgres://w@direct:5432/app"):
        assert check_settings() == []


@override_settings(TASKSQUEUE_WORKER_DATABASE_URL="postgres://w:s3cret@db/app?colour=blue")
def test_a_url_libpq_cannot_read_is_error_e009_without_its_password():
    [error] = check_settings()

    assert error.id == "tasksqueue.E009"
    assert error.msg == (
        "TASKSQUEUE_WORKER_DATABASE_URL is not a connection string libpq can read (invalid URI "
        'query parameter: "colour").'
    )


@override_settings(TASKSQUEUE_WORKER_DATABASE_URL="mysql://w:s3cret@db/app")
def test_the_worker_refuses_to_start_on_a_bad_worker_url_and_the_password_stays_out():
    with pytest.raises(CommandError) as raised:
        call_command("tasksqueue", "worker", "--one-shot")

    assert str(raised.value).startswith(
        "TASKSQUEUE_WORKER_DATABASE_URL is not a connection string libpq can read (missing "
    )
    assert "s3cret" not in str(raised.value)
    assert raised.value.returncode == 1


def worker_sessions() -> int:
    with psycopg.connect(**connector_params("default"), autocommit=True) as admin:
        [(count,)] = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    return int(count)


def start_worker(log: Path, *options: str) -> subprocess.Popen[bytes]:
    """A worker at concurrency 2 whose own connections carry APPLICATION_NAME."""
    url = with_query(database_url(), f"application_name={APPLICATION_NAME}")
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "tasksqueue", "worker", "-c", "2", *options],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url(),
                "TASKSQUEUE_WORKER_DATABASE_URL": url,
                "TASKS_MODULES_PATHS": TASKS,
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def run_a_job_then_stop(worker: subprocess.Popen[bytes], log: Path, sessions: int) -> None:
    try:
        wait_until(lambda: worker_sessions() == sessions, "the worker's sessions", interval=0.1)
        job_id = add.defer_sync(1, 2)
        wait_until(
            lambda: ProcrastinateJob.objects.get(id=job_id).status == "succeeded",
            "the job to succeed",
            details=log.read_text,
        )
        assert worker_sessions() == sessions
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(TIMEOUT)
    assert worker.returncode == 0, log.read_text()


@pytest.mark.django_db(transaction=True)
def test_the_worker_pool_and_listener_use_the_worker_url_and_its_tasks_djangos(tmp_path):
    log = tmp_path / "worker.log"
    # Its pool's three and the one that LISTENs; the probe's connection is closed by then. Its
    # task ran on Django's connection, which has no application name.
    run_a_job_then_stop(start_worker(log), log, sessions=4)

    assert "4 database connections for the queue and up to 3 for its tasks" in log.read_text()


@pytest.mark.django_db(transaction=True)
def test_without_listen_the_worker_polls_on_its_pool_alone(tmp_path):
    log = tmp_path / "worker.log"
    run_a_job_then_stop(start_worker(log, "--no-listen", "--poll-interval", "0.2"), log, sessions=3)

    assert (
        "concurrency 2, 3 database connections for the queue and up to 3 for its tasks, polling "
        "every 0.2s"
    ) in log.read_text()


def test_a_poll_interval_of_0_is_refused_in_one_line():
    result = manage("tasksqueue", "worker", "--poll-interval", "0")

    assert result.returncode == 2
    assert result.stderr == (
        "manage.py tasksqueue worker: error: argument --poll-interval: expected a number of "
        "seconds, more than 0, got '0' (see `manage.py tasksqueue worker --help`)\n"
    )


def test_manage_py_check_warns_w001_from_the_environment_until_the_worker_url_is_set():
    pooled = {"DATABASE_URL": with_query(database_url(), "disable_server_side_cursors=true")}

    warned = manage("check", env=pooled)
    quiet = manage("check", env={**pooled, "TASKSQUEUE_WORKER_DATABASE_URL": database_url()})

    assert warned.returncode == 0, warned.stderr
    assert "?: (tasksqueue.W001) Workers LISTEN through the database 'default'" in warned.stderr
    assert quiet.returncode == 0, quiet.stderr
    assert "tasksqueue.W001" not in quiet.stderr + quiet.stdout
