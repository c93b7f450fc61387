"""The worker's events exporter, scraped over HTTP from a real worker after a known sequence of
jobs, and parsed with prometheus_client's parser."""

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.tasksqueue.observability.worker_process import (
    SampleKey,
    get,
    running_worker,
    scrape,
)
from tests.tasksqueue.observability.worker_tasks import fail, later, succeed
from tests.utils.processes import closed_port

PREFIX = "tasksqueue_worker_"
READY = b'{"status": "ready", "checks": {"worker": "ok", "listener": "ok", "pool": "ok"}}'
SUCCEED, FAIL, LATER = succeed.name, fail.name, later.name


def key(name: str, **labels: str) -> SampleKey:
    return (PREFIX + name, tuple(sorted(labels.items())))


def ours(samples: dict[SampleKey, float]) -> dict[SampleKey, float]:
    """The samples of this test's tasks, and those without a task (the worker's own); not the
    built-in maintenance jobs' that the worker may run meanwhile."""
    return {
        (name, labels): value
        for (name, labels), value in samples.items()
        if dict(labels).get("task", SUCCEED) in (SUCCEED, FAIL, LATER)
    }


def all_ran(samples: dict[SampleKey, float]) -> bool:
    finished = "jobs_finished_total"
    return (
        samples.get(key(finished, task=FAIL, queue="default", outcome="failed")) == 1
        and samples.get(key(finished, task=SUCCEED, queue="default", outcome="succeeded")) == 2
    )


@pytest.mark.django_db(transaction=True)
def test_a_known_sequence_of_jobs_gives_exact_counts(tmp_path):
    succeed.defer_sync()
    succeed.defer_sync()
    fail.defer_sync()  # retry=1: fails, is retried, fails for good
    later.configure(schedule_in={"hours": 1}).defer_sync()
    # Deferred two hours ago, while no worker ran: the jobs waited that long since they were due.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - interval '2 hours'"
            " WHERE type = 'deferred'"
        )
    port = closed_port()

    with running_worker(tmp_path / "worker.log", "-c", "2", "--metrics-port", str(port)) as worker:
        worker.wait_until(
            lambda: get(port, "/metrics") is not None and all_ran(scrape(port)),
            "the worker to run the jobs",
        )
        samples = ours(scrape(port))

    def value(name: str, **labels: str) -> float | None:
        return samples.get(key(name, **labels))

    default = {"queue": "default"}
    assert value("jobs_started_total", task=SUCCEED, **default) == 2
    assert value("jobs_started_total", task=FAIL, **default) == 2  # its run and its retry's
    assert value("jobs_finished_total", task=SUCCEED, outcome="succeeded", **default) == 2
    assert value("jobs_finished_total", task=FAIL, outcome="failed", **default) == 1
    assert value("jobs_retried_total", task=FAIL, **default) == 1
    assert value("jobs_retried_total", task=SUCCEED, **default) is None
    assert value("job_run_seconds_count", task=SUCCEED, outcome="succeeded", **default) == 2
    assert value("job_run_seconds_count", task=FAIL, outcome="retry", **default) == 1
    assert value("job_run_seconds_count", task=FAIL, outcome="failed", **default) == 1
    # Waiting is counted from when a job was due: the first runs waited the two hours since their
    # deferral; the retried run was due at its retry, moments before it ran.
    assert value("job_wait_seconds_count", task=SUCCEED, **default) == 2
    assert value("job_wait_seconds_bucket", task=SUCCEED, le="3600.0", **default) == 0
    assert value("job_wait_seconds_count", task=FAIL, **default) == 2
    assert value("job_wait_seconds_bucket", task=FAIL, le="3600.0", **default) == 1
    assert value("job_wait_seconds_bucket", task=FAIL, le="+Inf", **default) == 2
    assert value("concurrency") == 2
    assert value("connection_losses_total") == 0
    assert value("reconnects_total") == 0
    # The job scheduled in an hour is not due: not started, not waiting, not running.
    assert [sample for sample in samples if dict(sample[1]).get("task") == LATER] == []
    assert ProcrastinateJob.objects.get(task_name=LATER).status == "todo"
    # Nothing is left running, and nothing but these labels names a series.
    assert [sample for sample in samples if sample[0] == PREFIX + "jobs_running"] == []
    assert {name for _, labels in samples for name, _ in labels} == {
        "task",
        "queue",
        "outcome",
        "le",
    }


def lose_track(worker, port: int, *, due_now: bool) -> None:
    """Once the worker is ready, its job left as a fetch whose answer was lost with its connection
    leaves it: in "doing" for this worker, which is not running it."""
    worker.wait_until(lambda: get(port, "/health/ready") == (200, READY), "the worker")
    schedule = ", scheduled_at = NULL" if due_now else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE procrastinate_jobs SET status = 'doing'{schedule},"
            " worker_id = (SELECT id FROM procrastinate_workers)"
        )


@pytest.mark.django_db(transaction=True)
def test_a_job_the_worker_lost_track_of_is_counted_as_rescued(tmp_path):
    later.configure(schedule_in={"hours": 1}).defer_sync()
    port = closed_port()

    with running_worker(tmp_path / "worker.log", "--metrics-port", str(port)) as worker:
        # Its audit puts the job back after seeing it twice.
        lose_track(worker, port, due_now=True)
        rescued = key("jobs_rescued_total", task=LATER, queue="default")
        finished = key("jobs_finished_total", task=LATER, queue="default", outcome="succeeded")
        worker.wait_until(lambda: scrape(port).get(finished) == 1, "the rescued job to run")
        samples = scrape(port)

    assert samples[rescued] == 1
    assert samples[key("jobs_started_total", task=LATER, queue="default")] == 1


@pytest.mark.django_db(transaction=True)
def test_a_stopping_worker_puts_back_the_jobs_it_lost_track_of_before_it_unregisters(tmp_path):
    job_id = later.configure(schedule_in={"hours": 1}).defer_sync()
    port = closed_port()

    with running_worker(tmp_path / "worker.log", "--metrics-port", str(port)) as worker:
        # Then a stop before the audit has seen the job twice: unregistering would leave it in
        # "doing" with no worker, for the rescue to find a minute later.
        lose_track(worker, port, due_now=False)
    assert worker.process.returncode == 0, worker.tail()

    job = ProcrastinateJob.objects.get(id=job_id)
    assert (job.status, job.worker_id) == ("todo", None)
    assert f"job {job_id} put back in the queue: its worker lost track of it" in worker.tail()
