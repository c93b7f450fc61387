"""Retry of jobs interrupted by a worker's shutdown.

Procrastinate marks a job that a stopping worker had to interrupt as `aborted` (a final state)
unless the task's retry strategy says otherwise, and most strategies (none, or "SMTP errors only")
do not. A job that never got to finish must run again, so every task's strategy is wrapped: an
interruption during shutdown is retried at once, everything else is decided by the task's own
strategy, unchanged.
"""

import asyncio
import threading

from procrastinate import exceptions
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

# Set by the worker when its graceful shutdown timeout runs out and it interrupts running jobs;
# a cancellation at any other time is a user's abort request and stays final.
shutting_down = threading.Event()


class RetryInterruptedJobs(BaseRetryStrategy):
    def __init__(self, inner: BaseRetryStrategy | None) -> None:
        self.inner = inner

    def get_retry_exception(self, exception: BaseException, job: Job) -> exceptions.JobRetry | None:
        interrupted = isinstance(exception, asyncio.CancelledError | exceptions.JobAborted)
        if interrupted and shutting_down.is_set():
            return exceptions.JobRetry(RetryDecision(retry_in={"seconds": 0}))
        if self.inner is None:
            return None
        return self.inner.get_retry_exception(exception=exception, job=job)
