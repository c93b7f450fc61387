"""Chaos: real workers (`manage.py tasksqueue worker` subprocesses) on the test database, killed,
cut off from the database, stopped mid-job and crashed by their own jobs; no job is lost.

The workers run the tasks of `tests.tasksqueue.chaos_tasks` (through TASKS_MODULES_PATHS) and
heartbeat every second, so a worker silent for 3 seconds counts as dead. The rescue of a dead
worker's jobs is triggered the way its cron schedule would, by deferring the built-in rescue job,
once the dead worker's heartbeat is stale. Every wait polls for a fact and is bounded by TIMEOUT;
the tests assert rows and exit codes, never durations.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, transaction
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.jobs import Status

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.models import JobRescue
from taiga.tasksqueue.ops import rescue
from taiga.tasksqueue.ops.stalled import list_stalled_jobs
from taiga.tasksqueue.tasks import rescue_stalled_jobs
from taiga.tasksqueue.worker.jobs.queries import FINISH_JOBS
from tests.tasksqueue import chaos_tasks
from tests.tasksqueue.chaos_tasks import GATE_ENV, crash_worker, long_async_job, long_sync_job, step
from tests.utils.processes import ROOT, TIMEOUT, database_url, manage
from tests.utils.waiting import wait_until

STALLED_AFTER_SECONDS = 3
MAX_RESCUES = 2

WORKER_ENV = {
    "TASKS_MODULES_PATHS": chaos_tasks.__name__,
    "TASKSQUEUE_HEARTBEAT_SECONDS": "1",
    "TASKSQUEUE_STALLED_AFTER_SECONDS": str(STALLED_AFTER_SECONDS),
    "TASKSQUEUE_MAX_RESCUES": str(MAX_RESCUES),
}

# The worker's finish statement, known by its start (up to its first parameter, which the server
# sees as $1): pg_stat_activity keeps only the first kilobyte of a statement.
FINISH_WAITING_FOR_A_LOCK = """
SELECT pid FROM pg_stat_activity
 WHERE datname = current_database() AND wait_event_type = 'Lock'
   AND starts_with(query, %(finish_start)s)
"""

TERMINATE_OTHER_BACKENDS = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def worker_env(**extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url(), **WORKER_ENV, **extra}


@dataclass
class WorkerProcess:
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int:
        return self.process.wait(TIMEOUT)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `manage.py tasksqueue worker ARGS` with its log in a file; kill it if left running."""
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        with log_path.open("w") as stderr:  # the child keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "manage.py", "tasksqueue", "worker", *args],
                cwd=ROOT,
                env={**os.environ, **(env or worker_env())},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        worker = WorkerProcess(process, log_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.alive():
            worker.process.kill()
            worker.process.wait(TIMEOUT)


def wait_for(condition: Callable[[], Any], what: str, *workers: WorkerProcess) -> None:
    """`wait_until`, failing with the workers' logs."""

    def logs() -> str:
        return "\n".join(f"--- {w.log_path.name}\n{w.log()[-3000:]}" for w in workers)

    wait_until(condition, what, details=logs)


def sql(query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or {})
        return cursor.fetchall() if cursor.description else []


def count(ids: list[int], status: str) -> int:
    return ProcrastinateJob.objects.filter(id__in=ids, status=status).count()


def jobs_in_doing() -> set[int]:
    return set(ProcrastinateJob.objects.filter(status="doing").values_list("id", flat=True))


def retried(ids: list[int]) -> dict[int, int]:
    """Attempts of the jobs that ran more than once (a finished job counts its last run too)."""
    return dict(
        ProcrastinateJob.objects.filter(id__in=ids, attempts__gt=1).values_list("id", "attempts")
    )


def rescues() -> dict[int, int]:
    return dict(JobRescue.objects.values_list("job_id", "rescues"))


def stalled(ids: set[int]) -> bool:
    return ids <= {job_id for job_id, _ in list_stalled_jobs(STALLED_AFTER_SECONDS)}


def rescue_once_stalled(ids: set[int], *workers: WorkerProcess) -> None:
    """Once the jobs count as stalled, have the rescue run as its cron schedule would."""
    wait_for(lambda: stalled(ids), f"jobs {sorted(ids)} to count as stalled", *workers)
    # A direct defer carries neither the schedule's lock nor its queueing lock: it may run
    # alongside a scheduled run, which the rescue is safe against.
    rescue_stalled_jobs.defer_sync(timestamp=0)


def a_job_end_waits_for_a_lock() -> bool:
    # Within a transaction, PostgreSQL shows the same pg_stat_activity until told to look again.
    sql("SELECT pg_stat_clear_snapshot()")
    return bool(sql(FINISH_WAITING_FOR_A_LOCK, {"finish_start": FINISH_JOBS.split("%(")[0]}))


def held(gate: Path) -> set[int]:
    return {int(path.name.removeprefix("held-")) for path in gate.glob("held-*")}


def stop(*workers: WorkerProcess) -> list[int]:
    for worker in workers:
        worker.process.send_signal(signal.SIGTERM)
    return [worker.exit_code() for worker in workers]


@pytest.mark.django_db(transaction=True)
def test_kill_9_of_one_of_two_workers_loses_no_job(tmp_path, start_worker):
    ids = step.defer_many_sync([(n,) for n in range(2000)])
    gate = tmp_path / "gate"
    gate.mkdir()
    victim = start_worker("-c", "4", "-n", "victim", env=worker_env(**{GATE_ENV: str(gate)}))
    survivor = start_worker("-c", "4", "-n", "survivor")
    wait_for(lambda: count(ids, "succeeded") >= 500, "500 jobs to succeed", victim, survivor)

    # Hold the victim's next jobs, so that it is certainly in the middle of one when killed.
    (gate / "closed").touch()
    wait_for(lambda: held(gate), "the victim to hold a job", victim)
    victim.process.kill()

    assert victim.exit_code() == -signal.SIGKILL
    [(victim_id,)] = sql(
        "SELECT worker_id FROM procrastinate_jobs WHERE id = %(id)s", {"id": min(held(gate))}
    )
    left_in_doing = {
        job_id
        for (job_id,) in sql(
            "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %(w)s",
            {"w": victim_id},
        )
    }
    assert held(gate) <= left_in_doing

    restarted = start_worker("-c", "4", "-n", "victim")
    rescue_once_stalled(left_in_doing, restarted, survivor)
    wait_for(
        lambda: count(ids, "succeeded") == len(ids) and not jobs_in_doing(),
        "every job to succeed",
        restarted,
        survivor,
    )

    assert count(ids, "succeeded") == 2000
    assert jobs_in_doing() == set()
    # The jobs the victim died with ran again, once; no other job was retried.
    assert retried(ids) == dict.fromkeys(left_in_doing, 2)
    assert rescues() == dict.fromkeys(left_in_doing, 1)
    assert (restarted.alive(), survivor.alive()) == (True, True)
    assert stop(restarted, survivor) == [0, 0]


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_backends_are_terminated_twice_stays_up_and_loses_no_job(
    tmp_path, start_worker
):
    ids = step.defer_many_sync([(n,) for n in range(1000)])
    gate = tmp_path / "gate"
    gate.mkdir()
    worker = start_worker("-c", "4", env=worker_env(**{GATE_ENV: str(gate)}))

    for progress in (200, 600):
        wait_for(
            lambda: count(ids, "succeeded") >= progress,  # noqa: B023 (called in this iteration)
            f"{progress} jobs to succeed",
            worker,
        )
        # With a job held, the worker is certainly in the middle of one...
        (gate / "closed").touch()
        wait_for(lambda: held(gate), "the worker to hold a job", worker)
        with transaction.atomic():
            # ... and with writes to the jobs table waiting, its end is certainly in flight
            # when the connections die.
            sql("LOCK TABLE procrastinate_jobs IN SHARE MODE")
            (gate / "closed").unlink()
            wait_for(a_job_end_waits_for_a_lock, "a job's end to wait for the lock", worker)
            terminated = sql(TERMINATE_OTHER_BACKENDS)
        for path in gate.glob("held-*"):
            path.unlink()
        assert terminated
        assert all(ok for (ok,) in terminated)

    wait_for(
        lambda: count(ids, "succeeded") == len(ids) and not jobs_in_doing(),
        "every job to succeed",
        worker,
    )

    assert count(ids, "succeeded") == 1000
    assert jobs_in_doing() == set()
    assert worker.alive()
    log = worker.log()
    # At least the job end cut off in each round was sent again.
    assert log.count("database connection lost") >= 2
    assert "stopped on a database error" not in log
    assert stop(worker) == [0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("task", [long_sync_job, long_async_job], ids=["sync", "async"])
def test_sigterm_lets_a_long_job_finish_within_the_timeout_and_exits_0(
    tmp_path, start_worker, task
):
    job_id = task.defer_sync(str(tmp_path))
    waiting = step.defer_sync(1)
    worker = start_worker("--shutdown-timeout", "60")
    wait_for((tmp_path / "started").exists, "the job to start", worker)

    worker.process.send_signal(signal.SIGTERM)
    wait_for(lambda: "SIGTERM received" in worker.log(), "the worker to log the signal", worker)
    (tmp_path / "release").touch()

    assert worker.exit_code() == 0
    assert list(
        ProcrastinateJob.objects.filter(id__in=[job_id, waiting])
        .values_list("id", "status", "attempts")
        .order_by("id")
    ) == [(job_id, "succeeded", 1), (waiting, "todo", 0)]


@pytest.mark.django_db(transaction=True)
def test_sigterm_aborts_an_async_job_outliving_a_short_timeout_and_it_is_retried(
    tmp_path, start_worker
):
    job_id = long_async_job.defer_sync(str(tmp_path))
    worker = start_worker("--shutdown-timeout", "0.5")
    wait_for((tmp_path / "started").exists, "the job to start", worker)

    worker.process.send_signal(signal.SIGTERM)

    assert worker.exit_code() == 0
    job = ProcrastinateJob.objects.get(id=job_id)
    assert (job.status, job.attempts) == ("todo", 1)

    (tmp_path / "release").touch()
    result = manage("tasksqueue", "worker", "--one-shot", env=worker_env())

    assert result.returncode == 0, result.stderr
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)


@pytest.mark.django_db(transaction=True)
def test_a_job_that_crashes_its_worker_every_time_fails_after_max_rescues(start_worker):
    before = step.defer_many_sync([(n,) for n in range(10)])
    crasher = crash_worker.defer_sync()
    after = step.defer_many_sync([(n,) for n in range(10, 20)])
    # One job at a time, in order: the ten before, then the crasher.
    worker = start_worker("-c", "1")

    assert worker.exit_code() == -signal.SIGKILL
    assert (count(before, "succeeded"), count(after, "todo")) == (10, 10)
    assert ProcrastinateJob.objects.get(id=crasher).status == "doing"

    crashes = 1
    while True:
        # As a supervisor would, start the worker again; the rescue puts the crasher back, and the
        # worker runs it at once, unless it was rescued MAX_RESCUES times already.
        worker = start_worker("-c", "1")
        rescue_once_stalled({crasher}, worker)
        if crashes > MAX_RESCUES:
            break
        assert worker.exit_code() == -signal.SIGKILL
        crashes += 1

    wait_for(
        lambda: ProcrastinateJob.objects.get(id=crasher).status == "failed",
        "the crasher to be failed",
        worker,
    )
    job = ProcrastinateJob.objects.get(id=crasher)
    assert (job.status, job.attempts, crashes) == ("failed", MAX_RESCUES + 1, MAX_RESCUES + 1)
    assert JobRescue.objects.get(job_id=crasher).failure_reason == (
        f"Gave up after {MAX_RESCUES} rescues: the worker running this job stopped heartbeating "
        f"each time (TASKSQUEUE_MAX_RESCUES={MAX_RESCUES})."
    )
    assert rescues() == {crasher: MAX_RESCUES + 1}
    assert count(before + after, "succeeded") == 20
    assert retried(before + after) == {}
    assert worker.alive()
    assert stop(worker) == [0]


def raced_once(race: Callable[[list[int]], Awaitable[None]]) -> Callable[[float], Any]:
    """The rescue's listing of stalled jobs, then `race` ending them before it gets to them."""
    listing = list_stalled_jobs
    raced = False

    def listed_then_raced(stalled_after: float) -> list[tuple[int, str]]:
        nonlocal raced
        listed = listing(stalled_after)
        if not raced:
            raced = True
            async_to_sync(race)([job_id for job_id, _ in listed])
        return listed

    return listed_then_raced


async def rescued_by_another_run(job_ids: list[int]) -> None:
    await rescue.rescue_stalled_jobs(stalled_after=STALLED_AFTER_SECONDS, max_rescues=MAX_RESCUES)


async def finished_by_its_worker(job_ids: list[int]) -> None:
    for job_id in job_ids:
        await tqmanager.job_manager.finish_job_by_id_async(
            job_id, status=Status.SUCCEEDED, delete_job=False
        )


def job_of_a_dead_worker() -> int:
    [(worker_id,)] = sql("SELECT procrastinate_register_worker_v1()")
    sql(
        "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
        " WHERE id = %(id)s",
        {"id": worker_id},
    )
    job_id = step.defer_sync(1)
    sql(
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %(w)s WHERE id = %(id)s",
        {"w": worker_id, "id": job_id},
    )
    return job_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("race", "outcome"),
    [
        (rescued_by_another_run, ("todo", 1, {"rescues": 1})),
        (finished_by_its_worker, ("succeeded", 1, {})),
    ],
    ids=["rescued-by-another-run", "finished-by-its-worker"],
)
async def test_a_rescue_run_leaves_alone_a_job_ended_since_it_listed_it(race, outcome, monkeypatch):
    """Two rescue runs at once (the schedule's and one deferred by hand, as in the kill -9 test
    above) rescue and count a job once; a job ended meanwhile is not touched."""
    job_id = await sync_to_async(job_of_a_dead_worker)()

    monkeypatch.setattr(rescue, "list_stalled_jobs", raced_once(race))
    report = await rescue.rescue_stalled_jobs(
        stalled_after=STALLED_AFTER_SECONDS, max_rescues=MAX_RESCUES
    )

    assert (report.retried, report.failed) == ([], [])
    job = await ProcrastinateJob.objects.aget(id=job_id)
    rescue_rows = [row async for row in JobRescue.objects.filter(job_id=job_id).values("rescues")]
    status, attempts, rescue_row = outcome
    assert (job.status, job.attempts, rescue_rows) == (
        status,
        attempts,
        [rescue_row] if rescue_row else [],
    )
