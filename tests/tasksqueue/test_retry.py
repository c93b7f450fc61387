"""Jobs interrupted by a worker's shutdown are retried whatever the task's own strategy."""

import asyncio

import pytest
from procrastinate import RetryStrategy, exceptions
from procrastinate.jobs import Job

from taiga.tasksqueue import retry

JOB = Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="t", attempts=5)


@pytest.fixture
def shutting_down():
    retry.shutting_down.set()
    yield
    retry.shutting_down.clear()


@pytest.mark.usefixtures("shutting_down")
@pytest.mark.parametrize(
    "inner", [None, RetryStrategy(max_attempts=1, retry_exceptions={KeyError})]
)
@pytest.mark.parametrize("error", [asyncio.CancelledError(), exceptions.JobAborted()])
def test_an_interruption_during_shutdown_is_retried_at_once(inner, error):
    decision = retry.RetryInterruptedJobs(inner).get_retry_exception(error, JOB)

    assert decision is not None
    assert decision.retry_decision.retry_at is not None


def test_outside_shutdown_a_cancellation_is_final_and_other_errors_follow_the_task():
    strategy = retry.RetryInterruptedJobs(
        RetryStrategy(max_attempts=9, retry_exceptions={KeyError})
    )

    assert strategy.get_retry_exception(asyncio.CancelledError(), JOB) is None
    assert strategy.get_retry_exception(ValueError(), JOB) is None
    assert strategy.get_retry_exception(KeyError(), JOB) is not None
    assert retry.RetryInterruptedJobs(None).get_retry_exception(KeyError(), JOB) is None
