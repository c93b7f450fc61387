"""Tasks that the chaos tests' worker subprocesses run (tests/tasksqueue/test_reliability_chaos.py).

The workers import this module through TASKS_MODULES_PATHS. A test steers a running job with files:
a worker started with GATE_ENV set to a folder holds every job it starts while that folder has a
`closed` file, and says which jobs it holds (`held-<job id>` files), so the test knows for sure that
the worker is in the middle of jobs when it strikes.
"""

import asyncio
import os
import signal
import time
from pathlib import Path

from taiga.tasksqueue import JobContext
from taiga.tasksqueue.manager import manager as tqmanager
from tests.tasksqueue.test_command_support import TIMEOUT

GATE_ENV = "TASKSQUEUE_TEST_GATE"


def _wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the test never created {path}")
        time.sleep(0.01)


@tqmanager.task(pass_context=True)
def step(context: JobContext, n: int) -> int:
    """A short job, held at the gate while it is closed."""
    gate = os.environ.get(GATE_ENV)
    if gate and Path(gate, "closed").exists():
        Path(gate, f"held-{context.job.id}").touch()
        deadline = time.monotonic() + TIMEOUT
        while Path(gate, "closed").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the test never opened the gate")
            time.sleep(0.01)
    return n


@tqmanager.task
def long_sync_job(folder: str) -> None:
    """Say it started (a file), then run until the test releases it (another file)."""
    Path(folder, "started").touch()
    _wait_for_file(Path(folder, "release"))


@tqmanager.task
async def long_async_job(folder: str) -> None:
    """The async twin of `long_sync_job`: a stopping worker can cancel it."""
    await asyncio.to_thread(Path(folder, "started").touch)
    deadline = time.monotonic() + TIMEOUT
    while not await asyncio.to_thread(Path(folder, "release").exists):
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the job")
        await asyncio.sleep(0.01)


@tqmanager.task
def crash_worker() -> None:
    """Kill the worker running it, as the kernel's out-of-memory killer would."""
    os.kill(os.getpid(), signal.SIGKILL)
