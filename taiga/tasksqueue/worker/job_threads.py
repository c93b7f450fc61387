"""The threads that run a worker's sync tasks: one per slot, each keeping its own connections.

Procrastinate hands a sync task to asgiref's `sync_to_async`, which runs it on the event loop's
default executor: as many threads as the machine has cores plus four (6 on 2 cores, so at
concurrency 10 four jobs wait for a thread), and per call a context copy, a thread-local set-up and
a shielded future on top of the executor's own. Here a worker owns one thread per slot, so every
running sync job has a thread, and Django's per-thread connections (`connections.py`) are kept by
threads that live as long as the worker. The call costs one queue put and one callback.

When the worker stops, each thread closes its Django connections, so that nothing is left
connected to a database a test is about to drop. The threads are daemons: a sync task still
running when the shutdown timeout ends does not keep the process alive.
"""

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

# What a thread is given: the call, the context it runs in, and where its outcome goes.
Work = tuple[Callable[[], Any], contextvars.Context, asyncio.AbstractEventLoop, asyncio.Future[Any]]

# How long stopping waits for idle threads to close their connections and end.
STOP_WAIT_SECONDS = 5.0


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the job was cancelled (an abort, a shutdown) while its thread ran it
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class JobThreads:
    def __init__(self, size: int) -> None:
        self._work: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"tasksqueue-job-{n}", daemon=True)
            for n in range(1, size + 1)
        ]
        for thread in self._threads:
            thread.start()

    async def call(self, func: Callable[[], Any]) -> Any:
        """Run `func` in one of the threads, in a copy of the caller's context."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._work.put((func, contextvars.copy_context(), loop, future))
        return await future

    def _serve(self) -> None:
        try:
            while (work := self._work.get()) is not None:
                self._run(*work)
        finally:
            connections.close_all()

    @staticmethod
    def _run(
        func: Callable[[], Any],
        context: contextvars.Context,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        try:
            result, error = context.run(func), None
        except BaseException as exc:
            result, error = None, exc
        # RuntimeError: the worker's loop has closed, under a job that outlived the shutdown.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)

    def stop(self) -> None:
        """Let every thread close its connections and end; a thread still running a job is left."""
        for _ in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join(timeout=STOP_WAIT_SECONDS / len(self._threads))
