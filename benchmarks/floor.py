"""The floor of a "real" drain: `python -m benchmarks.floor TASK CONCURRENCY JOBS`.

Calls the task's own function (benchmarks.tasks) JOBS times, from CONCURRENCY threads for a sync
function or CONCURRENCY coroutines on one event loop for an async one, with no queue at all: what
a worker at that concurrency could at best do with the same work. Each thread or coroutine calls
it once first, untimed, so that Django's connections are open (and stay open: nothing closes them
between calls, unlike a worker's clean-up around each job). The calls note themselves in the probe
slot the harness gave (BENCH_PROBE_FILE, BENCH_PROBE_SLOT), so the floor's rate is read exactly
as a drain's.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any


def run_threads(func: Callable[[int], Any], concurrency: int, jobs: int) -> None:
    from benchmarks.probe import probe

    numbers = itertools.count()
    lock = threading.Lock()
    warmed = threading.Barrier(concurrency + 1)
    go = threading.Barrier(concurrency + 1)

    def work() -> None:
        func(-1)
        warmed.wait()
        go.wait()
        while True:
            with lock:
                i = next(numbers)
            if i >= jobs:
                return
            func(i)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    warmed.wait()
    probe.restart()
    go.wait()
    for thread in threads:
        thread.join()


async def run_coroutines(func: Callable[[int], Any], concurrency: int, jobs: int) -> None:
    from benchmarks.probe import probe

    await asyncio.gather(*(func(-1) for _ in range(concurrency)))
    probe.restart()
    numbers = iter(range(jobs))

    async def work() -> None:
        # One loop thread: taking the next number needs no lock.
        for i in numbers:
            await func(i)

    await asyncio.gather(*(work() for _ in range(concurrency)))


def main(argv: Sequence[str] | None = None) -> None:
    name, concurrency, jobs = (argv or sys.argv[1:])[:3]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taiga.conf.settings")
    import django

    django.setup()
    from benchmarks import tasks

    func = getattr(tasks, name).func
    if inspect.iscoroutinefunction(func):
        asyncio.run(run_coroutines(func, int(concurrency), int(jobs)))
    else:
        run_threads(func, int(concurrency), int(jobs))


if __name__ == "__main__":
    main()
