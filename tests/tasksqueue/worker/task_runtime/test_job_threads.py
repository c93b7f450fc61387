"""The threads of sync tasks: outcomes, context, concurrency for tasks that wait, cancellation."""

import asyncio
import contextvars
import threading

import pytest

from taiga.tasksqueue.worker.task_runtime.job_threads import JobThreads

REQUEST_ID = contextvars.ContextVar("REQUEST_ID", default="none")


@pytest.fixture
def threads():
    created: list[JobThreads] = []

    def make(size: int) -> JobThreads:
        created.append(JobThreads(size))
        return created[-1]

    yield make
    for job_threads in created:
        job_threads.stop()


async def test_a_call_returns_its_result_or_raises_its_error_in_the_callers_context(threads):
    job_threads = threads(2)
    REQUEST_ID.set("r-1")

    def fail() -> None:
        raise ValueError("bad input")

    seen, thread = await job_threads.call(lambda: (REQUEST_ID.get(), threading.current_thread()))
    assert seen == "r-1"
    assert thread.name.startswith("tasksqueue-job-")
    with pytest.raises(ValueError, match="bad input"):
        await job_threads.call(fail)


async def test_tasks_that_wait_each_get_a_thread_of_their_own(threads):
    size = 5
    job_threads = threads(size)
    # Each call waits until all of them are running at once: one thread for all would time out.
    together = threading.Barrier(size, timeout=10)

    results = await asyncio.gather(*(job_threads.call(together.wait) for _ in range(size)))

    assert sorted(results) == list(range(size))


async def test_a_call_cancelled_before_a_thread_takes_it_never_runs(threads):
    job_threads = threads(1)
    release, ran = threading.Event(), []
    busy = asyncio.ensure_future(job_threads.call(lambda: release.wait(10)))
    waiting = asyncio.ensure_future(job_threads.call(lambda: ran.append("late")))
    await asyncio.sleep(0.01)  # both handed over; the one thread is busy with the first

    waiting.cancel()
    release.set()
    assert await busy is True
    await job_threads.call(lambda: None)  # the thread has passed the cancelled call by now

    assert ran == []
