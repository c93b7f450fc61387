"""The worker's own path per job keeps Procrastinate's worker semantics: its concurrency, the
order jobs run in (priority then id, retries and locks included), user aborts, the task's context
and middleware, on a real worker and the test database."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue import JobContext, RetryStrategy
from taiga.tasksqueue.manager import manager as tqmanager
from taiga.tasksqueue.worker.options import WorkerOptions
from taiga.tasksqueue.worker.run import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

ran: list[str] = []
running = {"now": 0, "most": 0}
attempts: dict[str, int] = {}


@tqmanager.task
async def note(label: str) -> None:
    ran.append(label)


@tqmanager.task(retry=RetryStrategy(max_attempts=1))
async def fail_once(label: str) -> None:
    attempts[label] = attempts.get(label, 0) + 1
    ran.append(f"{label}#{attempts[label]}")
    if attempts[label] == 1:
        raise ValueError("first attempt fails")


@tqmanager.task
async def busy(label: str) -> None:
    running["now"] += 1
    running["most"] = max(running["most"], running["now"])
    await asyncio.sleep(0.01)
    running["now"] -= 1


@tqmanager.task
async def wait_for_abort(label: str) -> None:
    ran.append(label)
    await asyncio.sleep(60)


@tqmanager.task(pass_context=True)
def sync_with_context(context: JobContext, label: str) -> None:
    ran.append(f"{label}:{context.job.id}:{context.worker_name}")


@pytest.fixture(autouse=True)
def _fresh_records():
    ran.clear()
    attempts.clear()
    running.update(now=0, most=0)


def statuses(*job_ids: int) -> list[str]:
    by_id = dict(ProcrastinateJob.objects.filter(id__in=job_ids).values_list("id", "status"))
    return [by_id[job_id] for job_id in job_ids]


def test_it_never_runs_more_jobs_at_once_than_its_concurrency_and_runs_them_all(
    run_worker_once,
):
    job_ids = busy.defer_many_sync([(str(n),) for n in range(40)])

    run_worker_once(concurrency=4)

    assert running["most"] == 4
    assert statuses(*job_ids) == ["succeeded"] * 40


def test_at_concurrency_one_jobs_run_in_procrastinates_order_with_retries_and_locks(
    run_worker_once,
):
    # A retried job runs again before the next job; a lock's next job runs as soon as the
    # lock's running job has ended, before later jobs; priority comes first.
    fail_once.defer_sync("retried")
    note.configure(lock="L").defer_sync("lock-1")
    note.configure(lock="L").defer_sync("lock-2")
    note.defer_sync("plain")
    note.configure(priority=5).defer_sync("urgent")

    run_worker_once(concurrency=1)

    assert ran == ["urgent", "retried#1", "retried#2", "lock-1", "lock-2", "plain"]


def test_a_sync_task_gets_its_context_and_runs_in_a_thread(run_worker_once):
    job_id = sync_with_context.defer_sync("sync")

    run_worker_once(name="ctx")

    assert ran == [f"sync:{job_id}:ctx"]
    assert statuses(job_id) == ["succeeded"]


async def test_a_user_abort_cancels_the_running_async_job_which_ends_aborted():
    job_id = await wait_for_abort.defer("held")
    worker = asyncio.create_task(
        run_worker(WorkerOptions(concurrency=2, install_signal_handlers=False))
    )
    try:
        await _until(lambda: ran == ["held"], "the job to start")
        await tqmanager.app.job_manager.cancel_job_by_id_async(job_id, abort=True)
        await _until(
            lambda: _status_sync(job_id) == "aborted", "the job to end aborted", in_thread=True
        )
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker


async def test_a_locks_next_job_starts_when_the_lock_is_freed_not_at_the_next_poll():
    # With a slot free, the lock's next job is skipped by the fetch while the lock's job runs;
    # the worker fetches again when that job has ended (Procrastinate polls every 5 s). A queue
    # of their own: no notification of another job (a periodic one) wakes the worker.
    await note.configure(lock="L", queue="locks").defer("lock-1")
    await note.configure(lock="L", queue="locks").defer("lock-2")
    options = WorkerOptions(concurrency=2, queues=("locks",), install_signal_handlers=False)
    worker = asyncio.create_task(run_worker(options))
    try:
        await _until(lambda: ran == ["lock-1", "lock-2"], "both jobs to run", seconds=2)
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker


def _status_sync(job_id: int) -> str:
    return str(ProcrastinateJob.objects.get(id=job_id).status)


async def _until(condition, what: str, in_thread: bool = False, seconds: int = 10) -> None:
    for _ in range(seconds * 100):
        met = await sync_to_async(condition)() if in_thread else condition()
        if met:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"waited {seconds} s for {what}")
