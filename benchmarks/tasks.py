"""The benchmark's no-op tasks for `tasksqueue worker` and stock Procrastinate.

Both run the very same functions: `@manager.task` registers them on Procrastinate's app, so the
stock worker (`manage.py procrastinate worker`) finds them too. Worker processes of the benchmark
import this module through the TASKS_MODULES_PATHS environment variable; nothing else does.
"""

from benchmarks.probe import probe
from taiga.tasksqueue.manager import manager


@manager.task(name="bench.noop")
async def noop(i: int) -> None:
    """One job of a drain: note that it ran and return."""
    probe.job_started()


@manager.task(name="bench.ping")
async def ping(seq: int, sent: float) -> None:
    """One latency sample: tell the harness when it started."""
    probe.report_start(seq, sent)
