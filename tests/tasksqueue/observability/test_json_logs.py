"""TASKSQUEUE_LOG_FORMAT=json: a real worker in a process of its own writes one JSON object per
line, its job lines with their fields."""

import datetime
import json
import logging
import sys

import pytest
from django.db import connection

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.observability.json_logs import JsonFormatter
from tests.utils.processes import database_url, manage

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "obsweb-logs"
WORKER_LOGGER = "taiga.tasksqueue.worker"


@tqmanager.task(queue=QUEUE)
def succeed() -> None:
    pass


@tqmanager.task(queue=QUEUE, retry=1)
def fail_twice() -> None:
    raise ValueError("fails every time")


def worker_lines(env: dict[str, str]) -> list[str]:
    result = manage(
        "tasksqueue",
        "worker",
        "--one-shot",
        "--name",
        "logs-worker",
        env={"DATABASE_URL": database_url(), "TASKS_MODULES_PATHS": __name__, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_a_worker_writes_one_json_object_per_line_with_the_job_fields() -> None:
    ok = succeed.defer_sync()
    failing = fail_twice.defer_sync()

    entries = [json.loads(line) for line in worker_lines({"TASKSQUEUE_LOG_FORMAT": "json"})]

    for entry in entries:
        assert datetime.datetime.fromisoformat(entry["time"]).utcoffset() == datetime.timedelta(0)
    jobs = [entry for entry in entries if "job_id" in entry]
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT worker_id FROM tasksqueue_jobattempt")
        [(worker,)] = cursor.fetchall()
    durations = [entry.pop("duration") for entry in jobs if "duration" in entry]
    assert all(isinstance(duration, float) and duration >= 0 for duration in durations)
    traceback = jobs[-1].pop("exception")
    assert traceback.startswith("Traceback (most recent call last):")
    assert traceback.endswith("ValueError: fails every time")
    shown = {"time", "message"}
    assert [{k: v for k, v in entry.items() if k not in shown} for entry in jobs] == [
        line("INFO", ok, succeed.name, 1, worker),
        line("INFO", ok, succeed.name, 1, worker, outcome="succeeded"),
        line("INFO", failing, fail_twice.name, 1, worker),
        line("WARNING", failing, fail_twice.name, 1, worker, outcome="retry", error=ERROR),
        line("INFO", failing, fail_twice.name, 2, worker),
        line("ERROR", failing, fail_twice.name, 2, worker, outcome="failed", error=ERROR),
    ]
    assert jobs[1]["message"] == (
        f"job ended task={succeed.name} id={ok} queue={QUEUE} attempt=1 "
        f"duration={durations[0]:.3f}s outcome=succeeded"
    )


ERROR = "ValueError: fails every time"


def line(level: str, job_id: int, task: str, attempt: int, worker_id: int, **end: str) -> dict:
    return {
        "level": level,
        "logger": WORKER_LOGGER,
        "job_id": job_id,
        "task": task,
        "queue": QUEUE,
        "attempt": attempt,
        "worker": "logs-worker",
        "worker_id": worker_id,
        **end,
    }


def test_text_lines_stay_the_default() -> None:
    job_id = succeed.defer_sync()

    lines = worker_lines({})

    assert any(
        line.endswith(
            f" INFO {WORKER_LOGGER}: job started task={succeed.name} id={job_id} "
            f"queue={QUEUE} attempt=1"
        )
        for line in lines
    )
    assert not any(line.startswith("{") for line in lines)


def test_a_log_format_other_than_text_or_json_stops_the_command_with_the_fix() -> None:
    result = manage("check", env={"TASKSQUEUE_LOG_FORMAT": "xml"})

    assert result.returncode == 1
    assert result.stderr == (
        "TASKSQUEUE_LOG_FORMAT must be text or json, got 'xml'; unset it for text lines.\n"
    )


def test_other_records_carry_their_message_and_exception_but_no_other_extra() -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "%s of %d", ("one", 2), exc_info)
    record.job = {"id": 5, "queue": "q", "task_kwargs": {"password": "hunter2"}}
    record.user = "someone"

    entry = json.loads(JsonFormatter().format(record))

    assert entry.pop("exception").endswith("KeyError: 'missing'")
    assert entry == {
        "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
            timespec="milliseconds"
        ),
        "level": "ERROR",
        "logger": "app",
        "message": "one of 2",
        "job_id": 5,
        "queue": "q",
    }
