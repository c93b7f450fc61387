"""The threads that run a worker's sync tasks: one per slot, each keeping its own connections.

Procrastinate hands a sync task to asgiref's `sync_to_async`, which runs it on the event loop's
default executor: as many threads as the machine has cores plus four (6 on 2 cores, so at
concurrency 10 four jobs wait for a thread), and per call a context copy, a thread-local set-up and
a shielded future on top of the executor's own. Here a worker owns one thread per slot, so every
running sync job can have a thread, and Django's per-thread connections (`connections.py`) are
kept by threads that live as long as the worker.

Waking a sleeping thread is the dearest part of handing a job over (a system call, and on a
virtual machine a signal to another CPU): woken once per job, ten threads doubled the worker's
CPU per sync no-op job. So a job goes to a thread that is already awake when there is one, which
runs the jobs queued behind its own as it finishes; more threads are woken only for jobs still
waiting SPREAD_AFTER_SECONDS later, which is when a task that waits (on a query, a request)
needs threads of its own. Outcomes go back to the loop the same way, many per wake-up.

When the worker stops, each thread closes its Django connections, so that nothing is left
connected to a database a test is about to drop. The threads are daemons: a sync task still
running when the shutdown timeout ends does not keep the process alive.
"""

import asyncio
import collections
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any

from django.db import connections

# What a thread is given: the call, the context it runs in, and the future of its outcome.
Work = tuple[Callable[[], Any], contextvars.Context, asyncio.Future[Any]]
# What it hands back: the future, and the call's result or its exception.
Done = tuple[asyncio.Future[Any], Any, BaseException | None]

# How long a job waits for a busy thread before a sleeping one is woken for it.
SPREAD_AFTER_SECONDS = 0.0005

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
        self._lock = threading.Lock()
        self._pending: collections.deque[Work] = collections.deque()
        # The threads waiting for work: each sleeps on its own lock, held until a waker releases it.
        self._sleeping: list[threading.Lock] = []
        self._size = size
        self._spread_due = False
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Outcomes on their way to the loop, and whether a wake-up of the loop is on its way too.
        self._done: collections.deque[Done] = collections.deque()
        self._wake_pending = False
        self._threads = [
            threading.Thread(
                target=self._serve, args=(threading.Lock(),), name=f"tasksqueue-job-{n}"
            )
            for n in range(1, size + 1)
        ]
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    async def call(self, func: Callable[[], Any]) -> Any:
        """Run `func` in one of the threads, in a copy of the caller's context."""
        self._loop = loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._pending.append((func, contextvars.copy_context(), future))
            if len(self._sleeping) == self._size:
                self._sleeping.pop().release()  # no thread is awake to take it
            elif not self._spread_due:
                self._spread_due = True
                loop.call_later(SPREAD_AFTER_SECONDS, self._spread)
        return await future

    def _spread(self) -> None:
        """Wake a thread for every job still waiting (the awake ones are busy)."""
        with self._lock:
            self._spread_due = False
            for _ in range(min(len(self._pending), len(self._sleeping))):
                self._sleeping.pop().release()

    def _serve(self, wake: threading.Lock) -> None:
        wake.acquire()
        try:
            while True:
                with self._lock:
                    work = self._pending.popleft() if self._pending else None
                    if work is None:
                        if self._stopping:
                            return
                        self._sleeping.append(wake)
                if work is None:
                    wake.acquire()  # until a waker releases it
                elif not work[2].done():  # not cancelled (an abort, a shutdown) while it waited
                    self._run(*work)
        finally:
            connections.close_all()

    def _run(
        self, func: Callable[[], Any], context: contextvars.Context, future: asyncio.Future[Any]
    ) -> None:
        try:
            result, error = context.run(func), None
        except BaseException as exc:
            result, error = None, exc
        self._done.append((future, result, error))
        # One wake-up of the loop carries every outcome that arrives before it runs.
        if not self._wake_pending:
            self._wake_pending = True
            assert self._loop is not None
            # RuntimeError: the loop has closed, under a job that outlived the shutdown.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        # Cleared first: an outcome added from here on schedules a wake-up of its own.
        self._wake_pending = False
        while self._done:
            _settle(*self._done.popleft())

    def stop(self) -> None:
        """Let every thread close its connections and end; a thread still running a job is left."""
        with self._lock:
            self._stopping = True
            while self._sleeping:
                self._sleeping.pop().release()
        for thread in self._threads:
            thread.join(timeout=STOP_WAIT_SECONDS / len(self._threads))
