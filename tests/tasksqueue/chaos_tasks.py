"""Tasks that the chaos tests' worker subprocesses run (tests/tasksqueue/test_reliability_chaos.py).

The workers import this module through TASKS_MODULES_PATHS. A test steers a running job with files:
a worker started with GATE_ENV set to a folder holds every job it starts while that folder has a
`closed` file, and says which jobs it holds (`held-<job id>` files), so the test knows for sure that
the worker is in the middle of jobs when it strikes.
"""

import asyncio
import os
import signal
from pathlib import Path

from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue import JobContext
from taiga.tasksqueue.manager import manager as tqmanager
from tests.utils.waiting import wait_until, wait_until_async

GATE_ENV = "TASKSQUEUE_TEST_GATE"


@tqmanager.task(pass_context=True)
def step(context: JobContext, n: int) -> int:
    """A short job, held at the gate while it is closed."""
    gate = os.environ.get(GATE_ENV)
    if gate and Path(gate, "closed").exists():
        Path(gate, f"held-{context.job.id}").touch()
        closed = Path(gate, "closed")
        wait_until(lambda: not closed.exists(), "the test to open the gate", interval=0.01)
    return n


@tqmanager.task
def long_sync_job(folder: str) -> None:
    """Say it started (a file), then run until the test releases it (another file)."""
    Path(folder, "started").touch()
    release = Path(folder, "release")
    wait_until(release.exists, f"the test to create {release}", interval=0.01)


@tqmanager.task
async def long_async_job(folder: str) -> None:
    """The async twin of `long_sync_job`: a stopping worker can cancel it."""
    await asyncio.to_thread(Path(folder, "started").touch)
    release = Path(folder, "release")
    await wait_until_async(release.exists, f"the test to create {release}", 0.01)


@tqmanager.task(pass_context=True)
def crash_worker(context: JobContext) -> None:
    """Kill the worker running it, as the kernel's out-of-memory killer would.

    First it lets the outcome of the job before it reach the database: the worker frees a slot
    before that outcome is recorded, and a kill in between would lose it (at least once: the
    rescue runs that job again), which is not what the tests that use this task look at.
    """
    others = ProcrastinateJob.objects.filter(status="doing").exclude(id=context.job.id)
    wait_until(lambda: not others.exists(), "the jobs before to be recorded", interval=0.01)
    os.kill(os.getpid(), signal.SIGKILL)
