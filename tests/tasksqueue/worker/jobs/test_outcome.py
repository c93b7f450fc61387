"""How a job's outcome is decided: jobs interrupted by a worker's shutdown go back to the queue
whatever the task's own strategy; other errors follow the task's strategy, as in Procrastinate."""

import asyncio

import pytest
from django.utils import timezone
from procrastinate import RetryStrategy, exceptions
from procrastinate.job_context import AbortReason, JobContext
from procrastinate.jobs import Job, Status

from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.worker.jobs.outcome import decide
from tests.tasksqueue.sample_tasks import add

JOB = Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="t", attempts=5)


def context(abort_reason: AbortReason | None) -> JobContext:
    return JobContext(
        app=tqmanager.app, job=JOB, start_timestamp=0.0, abort_reason=lambda: abort_reason
    )


@pytest.fixture
def task_with(monkeypatch):
    def task(strategy: RetryStrategy | None):
        monkeypatch.setattr(add.procrastinate_task, "retry_strategy", strategy)
        return add.procrastinate_task

    return task


@pytest.mark.parametrize(
    "strategy", [None, RetryStrategy(max_attempts=1, retry_exceptions={KeyError})]
)
@pytest.mark.parametrize("error", [asyncio.CancelledError(), exceptions.JobAborted()])
def test_a_job_interrupted_by_a_shutdown_is_aborted_and_retried_at_once(task_with, strategy, error):
    before = timezone.now()
    status, retried = decide(task_with(strategy), context(AbortReason.SHUTDOWN), error)

    assert status is Status.ABORTED
    assert retried is not None
    assert retried.retry_at is not None
    assert before <= retried.retry_at <= timezone.now()
    assert (retried.priority, retried.queue, retried.lock) == (None, None, None)


def test_a_job_aborted_at_a_users_request_stays_aborted_whatever_its_strategy(task_with):
    task = task_with(RetryStrategy(max_attempts=9))

    assert decide(task, context(AbortReason.USER_REQUEST), exceptions.JobAborted()) == (
        Status.ABORTED,
        None,
    )


def test_other_errors_fail_and_are_retried_as_the_tasks_strategy_says(task_with):
    task = task_with(RetryStrategy(max_attempts=9, retry_exceptions={KeyError}))

    status, retried = decide(task, context(None), KeyError())
    assert status is Status.FAILED
    assert retried is not None
    assert retried.retry_at is not None
    assert decide(task, context(None), ValueError()) == (Status.FAILED, None)
    assert decide(task_with(None), context(None), KeyError()) == (Status.FAILED, None)
