"""`tasksqueue worker`: real workers, in subprocesses, on the test database.

The worker subprocesses import this module through TASKS_MODULES_PATHS, so the tasks below are
theirs too. Waits are bounded by TIMEOUT and poll for facts (a file, a log line); nothing asserts
on how long something took.
"""

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue import RetryStrategy
from taiga.tasksqueue.discovery import discover_task_modules
from taiga.tasksqueue.manager import manager as tqmanager
from tests.utils.processes import ROOT, TIMEOUT, database_url, manage
from tests.utils.waiting import wait_until

THIS_MODULE = __name__
LOG_PREFIX = re.compile(r"^\S+ \S+ (INFO|WARNING|ERROR) taiga\.tasksqueue\.worker: ", re.M)


@tqmanager.task
def record(label: str) -> str:
    return label


@tqmanager.task(retry=RetryStrategy(max_attempts=1))
def fail_twice(label: str) -> None:
    raise ValueError(f"{label} went wrong")


@tqmanager.task
def hold(folder: str) -> None:
    """Say it started (a file), then wait until the test says to finish (another file)."""
    Path(folder, "started").touch()
    release = Path(folder, "release")
    wait_until(release.exists, f"the test to create {release}", interval=0.01)


def worker_env() -> dict[str, str]:
    return {"DATABASE_URL": database_url(), "TASKS_MODULES_PATHS": THIS_MODULE}


def job_lines(stderr: str) -> list[str]:
    """The job log lines, without their timestamp prefix and with durations blanked."""
    lines = [LOG_PREFIX.sub("", line) for line in stderr.splitlines() if LOG_PREFIX.match(line)]
    return [
        re.sub(r"duration=\d+\.\d{3}s", "duration=_", line)
        for line in lines
        if line.startswith("job ")
    ]


def status_of(*job_ids: int) -> list[str]:
    statuses = dict(ProcrastinateJob.objects.filter(id__in=job_ids).values_list("id", "status"))
    return [statuses[job_id] for job_id in job_ids]


@pytest.fixture
def worker_process(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `manage.py tasksqueue worker ...` with its stderr in a file; kill it if left over."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        with (tmp_path / "worker.log").open("w") as stderr:  # the child keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "manage.py", "tasksqueue", "worker", *args],
                cwd=ROOT,
                env={**os.environ, **worker_env()},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)


def worker_log(tmp_path: Path) -> str:
    return (tmp_path / "worker.log").read_text()


@pytest.mark.django_db(transaction=True)
def test_a_worker_takes_jobs_only_from_the_queues_it_is_given_and_one_shot_exits_0():
    alpha = record.configure(queue="alpha").defer_sync("a")
    beta = record.configure(queue="beta").defer_sync("b")
    gamma = record.configure(queue="gamma").defer_sync("c")

    result = manage("tasksqueue", "worker", "-q", "alpha", "beta", "--one-shot", env=worker_env())

    assert result.returncode == 0, result.stderr
    assert status_of(alpha, beta, gamma) == ["succeeded", "succeeded", "todo"]
    task = f"{THIS_MODULE}.record"
    assert job_lines(result.stderr) == [
        f"job started task={task} id={alpha} queue=alpha attempt=1",
        f"job ended task={task} id={alpha} queue=alpha attempt=1 duration=_ outcome=succeeded",
        f"job started task={task} id={beta} queue=beta attempt=1",
        f"job ended task={task} id={beta} queue=beta attempt=1 duration=_ outcome=succeeded",
    ]
    # Named HOST:PID by default.
    assert re.search(
        rf"worker '{re.escape(socket.gethostname())}:\d+' started on queues alpha, beta, "
        "concurrency 1",
        result.stderr,
    )


@pytest.mark.django_db(transaction=True)
def test_one_shot_in_process_logs_retries_failures_and_unknown_tasks(caplog):
    failing = fail_twice.configure(queue="checks").defer_sync("report")
    orphan = tqmanager.app.configure_task("gone.tasks.vanished", queue="checks").defer()

    with caplog.at_level("INFO", logger="taiga.tasksqueue"):
        call_command("tasksqueue", "worker", "--one-shot", "-q", "checks", "-n", "inline")

    assert status_of(failing, orphan) == ["failed", "failed"]
    task = f"{THIS_MODULE}.fail_twice"
    lines = [
        re.sub(r"duration=\d+\.\d{3}s", "duration=_", entry.getMessage())
        for entry in caplog.records
        if entry.name == "taiga.tasksqueue.worker"
    ]
    assert lines == [
        "worker 'inline' started on queues checks, concurrency 1, 4 database connections for the "
        "queue and up to 2 for its tasks",
        f"job started task={task} id={failing} queue=checks attempt=1",
        f"job ended task={task} id={failing} queue=checks attempt=1 duration=_ outcome=retry "
        "error=ValueError: report went wrong",
        f"job started task={task} id={failing} queue=checks attempt=2",
        f"job ended task={task} id={failing} queue=checks attempt=2 duration=_ outcome=failed "
        "error=ValueError: report went wrong",
        f"job started task=gone.tasks.vanished id={orphan} queue=checks attempt=1",
        f"job ended task=gone.tasks.vanished id={orphan} queue=checks attempt=1 duration=_ "
        "outcome=failed error=TaskNotFound: no loaded module defines it; add its module to "
        "TASKS_MODULES_PATHS",
        "worker 'inline' stopped",
    ]
    # Procrastinate's own records of the unknown task, with tracebacks, gave way to the line above.
    assert not [entry for entry in caplog.records if "Task was not found" in entry.getMessage()]
    # Only the job that failed for good carries its traceback.
    tracebacks = [
        (entry.getMessage().split(" duration=")[0], entry.exc_info[0])
        for entry in caplog.records
        if entry.name == "taiga.tasksqueue.worker" and entry.exc_info
    ]
    last_attempt = f"job ended task={task} id={failing} queue=checks attempt=2"
    assert tracebacks == [(last_attempt, ValueError)]


@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_the_running_job_finish_takes_no_more_and_exits_0(tmp_path, worker_process):
    running = hold.defer_sync(str(tmp_path))
    waiting = record.defer_sync("after")
    process = worker_process("--shutdown-timeout", "60")
    wait_until((tmp_path / "started").exists, "the job to start")

    process.send_signal(signal.SIGTERM)
    wait_until(lambda: "SIGTERM received" in worker_log(tmp_path), "the worker to log the signal")
    (tmp_path / "release").touch()

    assert process.wait(TIMEOUT) == 0
    assert status_of(running, waiting) == ["succeeded", "todo"]
    log = worker_log(tmp_path)
    assert (
        "SIGTERM received: taking no more jobs, letting 1 running jobs finish (up to 60s); "
        "send it again to stop at once"
    ) in log
    assert job_lines(log)[-1] == (
        f"job ended task={THIS_MODULE}.hold id={running} queue=default attempt=1 duration=_ "
        "outcome=succeeded"
    )
    assert log.rstrip().endswith(f"worker '{socket.gethostname()}:{process.pid}' stopped")


@pytest.mark.django_db(transaction=True)
def test_a_second_signal_stops_at_once(tmp_path, worker_process):
    running = hold.defer_sync(str(tmp_path))
    process = worker_process()
    wait_until((tmp_path / "started").exists, "the job to start")

    process.send_signal(signal.SIGINT)
    wait_until(lambda: "SIGINT received" in worker_log(tmp_path), "the worker to log the signal")
    process.send_signal(signal.SIGINT)

    assert process.wait(TIMEOUT) == 128 + signal.SIGINT
    assert status_of(running) == ["doing"]
    assert (
        f"stopping at once (SIGINT received again); jobs left in doing: {running} "
        "(`manage.py tasksqueue status` lists them as stalled once this worker's heartbeat is "
        "stale)"
    ) in worker_log(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_a_sync_job_outliving_the_shutdown_timeout_is_left_and_the_worker_stops(
    tmp_path, worker_process
):
    running = hold.defer_sync(str(tmp_path))
    process = worker_process("--shutdown-timeout", "0")
    wait_until((tmp_path / "started").exists, "the job to start")

    process.send_signal(signal.SIGTERM)

    assert process.wait(TIMEOUT) == 128 + signal.SIGTERM
    assert status_of(running) == ["doing"]
    assert (
        "stopping at once (jobs still running after the shutdown timeout); jobs left in doing: "
        f"{running} "
    ) in worker_log(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_delete_jobs_successful_keeps_only_the_failed_ones():
    done = record.configure(queue="tidy").defer_sync("done")
    failed = fail_twice.configure(queue="tidy").defer_sync("failed")

    call_command("tasksqueue", "worker", "--one-shot", "-q", "tidy", "--delete-jobs", "successful")

    assert list(
        ProcrastinateJob.objects.filter(id__in=[done, failed]).values_list("id", "status")
    ) == [(failed, "failed")]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["-c", "0"],
            "Error: argument -c/--concurrency: expected a whole number of 1 or more, got '0'",
        ),
        (
            ["--delete-jobs", "sometimes"],
            "Error: argument --delete-jobs: invalid choice: 'sometimes' "
            "(choose from 'never', 'successful', 'always')",
        ),
        (
            ["--shutdown-timeout", "-1"],
            "Error: argument --shutdown-timeout: expected a number of seconds, 0 or more, got '-1'",
        ),
        (["-q"], "Error: argument -q/--queues: expected at least one argument"),
    ],
)
def test_bad_options_are_refused(args, error):
    with pytest.raises(CommandError) as raised:
        call_command("tasksqueue", "worker", *args)

    assert str(raised.value) == error


def test_a_task_module_that_cannot_be_imported_keeps_the_worker_from_starting(monkeypatch):
    with override_settings(TASKS_MODULES_PATHS={"taiga.nosuchmodule"}):
        discovery = discover_task_modules(apps.get_app_configs())
    monkeypatch.setattr(tqmanager, "discovery", discovery)

    with pytest.raises(CommandError) as raised:
        call_command("tasksqueue", "worker", "--one-shot")

    assert (raised.value.returncode, str(raised.value)) == (
        1,
        "Cannot import the task module 'taiga.nosuchmodule' (ModuleNotFoundError: No module "
        "named 'taiga.nosuchmodule'); fix it or remove it from TASKS_MODULES_PATHS",
    )


@pytest.mark.django_db(transaction=True)
def test_log_level_warning_keeps_only_problems():
    fine = record.configure(queue="quiet").defer_sync("fine")
    broken = fail_twice.configure(queue="quiet").defer_sync("broken")

    result = manage(
        "tasksqueue",
        "worker",
        "-q",
        "quiet",
        "--one-shot",
        "--log-level",
        "WARNING",
        env=worker_env(),
    )

    assert result.returncode == 0
    assert status_of(fine, broken) == ["succeeded", "failed"]
    task = f"{THIS_MODULE}.fail_twice"
    assert job_lines(result.stderr) == [
        f"job ended task={task} id={broken} queue=quiet attempt=1 duration=_ outcome=retry "
        "error=ValueError: broken went wrong",
        f"job ended task={task} id={broken} queue=quiet attempt=2 duration=_ outcome=failed "
        "error=ValueError: broken went wrong",
    ]


def test_a_heartbeat_too_slow_for_the_stalled_timeout_keeps_the_worker_from_starting():
    result = manage(
        "tasksqueue",
        "worker",
        "--one-shot",
        env={**worker_env(), "TASKSQUEUE_HEARTBEAT_SECONDS": "30"},
    )

    assert result.returncode == 1
    assert result.stderr == (
        "CommandError: TASKSQUEUE_HEARTBEAT_SECONDS (30) must be positive and at most a third of "
        "TASKSQUEUE_STALLED_AFTER_SECONDS (60). Otherwise live workers look dead and their jobs "
        "are run twice; lower the heartbeat or raise the stalled timeout.\n"
    )
