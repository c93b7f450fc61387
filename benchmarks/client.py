"""The deferring side of the benchmark, one process per system: `python -m benchmarks.client KEY`.

The harness starts it once per phase and drives it over stdin/stdout, one JSON object a line:

    -> {"cmd": "defer_sync", "n": 2000}
    <- {"event": "ready"}            warmed up (connection open, statements prepared)
    -> {"cmd": "go"}                 the harness has reset the queue and taken its snapshots
    <- {"event": "done", ...}        timings measured here, in this process
    ...
    -> {"cmd": "quit"}

Commands: defer_sync (one job per call, of `noop` or of the task `task` names), defer_async (one
job per call), defer_many (batches; of `noop`, or of the task `task` names, one of
benchmarks.real.REAL, to fill the queue), latency (defer one ping at a time to a running worker and
wait for it to report its start over UDP).

`ours` and `stock` share a Django process layout: `ours` defers through taiga.tasksqueue's task
API, `stock` through the very same tasks' Procrastinate objects (`procrastinate_task.defer`, its
default Django connector). `pgq` and `pgq-asyncpg` use PgQueuer's own queries, over psycopg and
asyncpg (which has no sync API: no defer_sync). `django` enqueues the tasks of benchmarks.dj_tasks
with Django's `Task.enqueue()` / `aenqueue()`, on whatever backend the process's TASKS setting
names (ours, or django-tasks-db); it has no batches and no pings.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import random
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Deferrer(Protocol):
    def sync_defer(self, task: str = "noop") -> Callable[[int], object]:
        """The sync call that defers one job of `task` with argument i."""
        ...

    async def one_async(self, i: int) -> None: ...
    async def open_async(self) -> None: ...
    async def close_async(self) -> None: ...
    def many(self, first: int, count: int, task: str = "noop") -> None: ...
    def ping(self, seq: int, sent: float) -> None: ...


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taiga.conf.settings")
    import django

    django.setup()


class OursDeferrer:
    def __init__(self) -> None:
        _setup_django()
        from benchmarks import tasks

        self._module = tasks
        self.noop = tasks.noop
        self.ping_task = tasks.ping

    def sync_defer(self, task: str = "noop") -> Callable[[int], object]:
        return getattr(self._module, task).defer_sync

    async def open_async(self) -> None:
        await self.noop.defer(-1)

    async def close_async(self) -> None:
        pass

    async def one_async(self, i: int) -> None:
        await self.noop.defer(i)

    def many(self, first: int, count: int, task: str = "noop") -> None:
        getattr(self._module, task).defer_many_sync([(i,) for i in range(first, first + count)])

    def ping(self, seq: int, sent: float) -> None:
        self.ping_task.defer_sync(seq, sent)


class StockDeferrer:
    """Stock Procrastinate: its own Task objects, its default (Django) connector."""

    def __init__(self) -> None:
        _setup_django()
        from benchmarks import tasks

        self._module = tasks
        self.noop = tasks.noop.procrastinate_task
        self.ping_task = tasks.ping.procrastinate_task

    def sync_defer(self, task: str = "noop") -> Callable[[int], object]:
        procrastinate_task = getattr(self._module, task).procrastinate_task
        return lambda i: procrastinate_task.defer(i=i)

    async def open_async(self) -> None:
        await self.noop.defer_async(i=-1)

    async def close_async(self) -> None:
        pass

    async def one_async(self, i: int) -> None:
        await self.noop.defer_async(i=i)

    def many(self, first: int, count: int, task: str = "noop") -> None:
        calls: list[dict[str, Any]] = [{"i": i} for i in range(first, first + count)]
        getattr(self._module, task).procrastinate_task.batch_defer(*calls)

    def ping(self, seq: int, sent: float) -> None:
        self.ping_task.defer(seq=seq, sent=sent)


class PgqDeferrer:
    """PgQueuer's `enqueue` over `driver`, one connection for sync calls and one for async ones.

    psycopg has both APIs. asyncpg has only the async one: it cannot defer one job per sync call,
    and its batches and pings (sync calls here) run on a private event loop, one
    `run_until_complete` per batch or ping."""

    def __init__(self, driver: str) -> None:
        from benchmarks import pgq_app

        self.driver = driver
        self.connect = pgq_app.connect
        self.noop_name = pgq_app.NOOP
        self.ping_name = pgq_app.PING
        self.async_stack: contextlib.AsyncExitStack | None = None
        self.async_queries: Any = None
        self.enqueue: Callable[..., object]
        if driver == "psycopg":
            import psycopg
            from pgqueuer.db import SyncPsycopgDriver
            from pgqueuer.queries import SyncQueries

            connection = psycopg.connect(os.environ["BENCH_PGQ_DSN"], autocommit=True)
            self.enqueue = SyncQueries(SyncPsycopgDriver(connection)).enqueue
        else:
            # Both kept for the life of the process: the stack's garbage collection would close
            # the connection on the loop's next run, in the middle of an enqueue.
            self.sync_loop = loop = asyncio.new_event_loop()
            self.sync_stack = contextlib.AsyncExitStack()
            queries = loop.run_until_complete(
                self.sync_stack.enter_async_context(self.connect(driver))
            )
            self.enqueue = lambda *args: loop.run_until_complete(queries.enqueue(*args))
            atexit.register(lambda: loop.run_until_complete(self.sync_stack.aclose()))

    @staticmethod
    def _payload(i: int) -> bytes:
        return json.dumps({"i": i}).encode()

    def sync_defer(self, task: str = "noop") -> Callable[[int], object]:
        if self.driver != "psycopg":
            raise ValueError(f"PgQueuer over {self.driver} has no sync API")
        if task != "noop":
            raise ValueError(f"PgQueuer's benchmark has no task {task!r}")
        return lambda i: self.enqueue(self.noop_name, self._payload(i))

    async def open_async(self) -> None:
        self.async_stack = contextlib.AsyncExitStack()
        self.async_queries = await self.async_stack.enter_async_context(self.connect(self.driver))
        await self.one_async(-1)

    async def close_async(self) -> None:
        if self.async_stack is not None:
            await self.async_stack.aclose()

    async def one_async(self, i: int) -> None:
        await self.async_queries.enqueue(self.noop_name, self._payload(i))

    def many(self, first: int, count: int, task: str = "noop") -> None:
        if task != "noop":
            raise ValueError(f"PgQueuer's benchmark has no task {task!r}")
        self.enqueue(
            [self.noop_name] * count,
            [self._payload(i) for i in range(first, first + count)],
            [0] * count,
        )

    def ping(self, seq: int, sent: float) -> None:
        payload = json.dumps({"seq": seq, "sent": sent}).encode()
        self.enqueue(self.ping_name, payload)


class DjangoTaskDeferrer:
    """Django's tasks framework: `Task.enqueue()` and `Task.aenqueue()` of benchmarks.dj_tasks,
    on the backend the process's TASKS setting names for the default alias."""

    def __init__(self) -> None:
        _setup_django()
        from benchmarks import dj_tasks

        self._module = dj_tasks
        self.noop = dj_tasks.noop

    def sync_defer(self, task: str = "noop") -> Callable[[int], object]:
        return getattr(self._module, task).enqueue

    async def open_async(self) -> None:
        await self.noop.aenqueue(-1)

    async def close_async(self) -> None:
        pass

    async def one_async(self, i: int) -> None:
        await self.noop.aenqueue(i)

    def many(self, first: int, count: int, task: str = "noop") -> None:
        raise ValueError("Django's tasks framework has no batch enqueue")

    def ping(self, seq: int, sent: float) -> None:
        raise ValueError("the django client has no latency task")


DEFERRERS: dict[str, Callable[[], Deferrer]] = {
    "ours": OursDeferrer,
    "stock": StockDeferrer,
    "pgq": lambda: PgqDeferrer("psycopg"),
    "pgq-asyncpg": lambda: PgqDeferrer("asyncpg"),
    "django": DjangoTaskDeferrer,
}


class Channel:
    def __init__(self) -> None:
        self.stdout = sys.stdout

    def send(self, **message: Any) -> None:
        self.stdout.write(json.dumps(message) + "\n")
        self.stdout.flush()

    def receive(self) -> dict[str, Any]:
        line = sys.stdin.readline()
        if not line:
            return {"cmd": "quit"}
        message: dict[str, Any] = json.loads(line)
        return message

    def ready_then_wait(self) -> None:
        self.send(event="ready")
        message = self.receive()
        if message.get("cmd") != "go":
            raise SystemExit(f"expected go, got {message}")


def _timed(channel: Channel, run: Callable[[], None], jobs: int) -> None:
    channel.ready_then_wait()
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    channel.send(event="done", jobs=jobs, seconds=wall, client_cpu=cpu)


def defer_sync(channel: Channel, deferrer: Deferrer, n: int, task: str = "noop") -> None:
    defer = deferrer.sync_defer(task)
    defer(-1)  # warm-up; the harness empties the queue after it

    def run() -> None:
        for i in range(n):
            defer(i)

    _timed(channel, run, n)


def defer_async(channel: Channel, deferrer: Deferrer, n: int) -> None:
    async def run_all() -> None:
        await deferrer.open_async()
        channel.ready_then_wait()
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(n):
            await deferrer.one_async(i)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        channel.send(event="done", jobs=n, seconds=wall, client_cpu=cpu)
        await deferrer.close_async()

    asyncio.run(run_all())


def defer_many(
    channel: Channel, deferrer: Deferrer, n: int, batch: int, task: str = "noop"
) -> None:
    deferrer.many(-batch, batch, task)  # warm-up batch; the harness empties the queue after it

    def run() -> None:
        for first in range(0, n, batch):
            deferrer.many(first, min(batch, n - first), task)

    _timed(channel, run, n)


def latency(
    channel: Channel,
    deferrer: Deferrer,
    udp: socket.socket,
    *,
    samples: int,
    budget: float,
    first_seq: int,
    warm: bool,
) -> None:
    """Defer one ping, wait for the worker to say it started it, pause, repeat; send back every
    sample (seconds) for the harness to pool with the other rounds.

    Stops after `samples` samples, or earlier once `budget` seconds have passed (a system whose
    latency is counted in seconds would otherwise hold the whole run). `warm` on the first round
    only: the worker may still be starting. Sequence numbers go on from `first_seq`, so an answer
    that comes after its sample timed out is skipped in any later round."""
    if warm and not _warm_up(deferrer, udp):
        channel.send(event="ready")
        channel.receive()
        channel.send(event="done", error="the worker never ran a ping")
        return

    channel.ready_then_wait()
    rng = random.Random(6 + first_seq)
    values: list[float] = []
    missed = 0
    udp.settimeout(10)
    stop_at = time.monotonic() + budget
    for seq in range(first_seq, first_seq + samples):
        if time.monotonic() > stop_at:
            break
        time.sleep(rng.uniform(0.005, 0.025))  # the worker is idle between samples
        sent = time.time()
        deferrer.ping(seq, sent)
        while True:
            try:
                answer = udp.recv(256).split()
            except TimeoutError:
                missed += 1
                break
            if int(answer[0]) == seq:
                values.append(float(answer[2]) - float(answer[1]))
                break
    channel.send(event="done", values=values, missed=missed)


def _warm_up(deferrer: Deferrer, udp: socket.socket) -> bool:
    """Ping until the worker answers, a few warm samples, then drop stray answers."""
    deadline = time.monotonic() + 90
    udp.settimeout(0.25)
    answered = False
    while not answered and time.monotonic() < deadline:
        deferrer.ping(-1, time.time())
        try:
            udp.recv(256)
            answered = True
        except TimeoutError:
            continue
    if not answered:
        return False
    for _ in range(5):
        deferrer.ping(-1, time.time())
        udp.settimeout(5)
        udp.recv(256)
    udp.settimeout(0.5)
    try:
        while True:
            udp.recv(256)
    except TimeoutError:
        pass
    return True


def main(argv: Sequence[str] | None = None) -> None:
    system = (argv or sys.argv[1:])[0]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    deferrer = DEFERRERS[system]()
    channel = Channel()
    channel.send(event="hello", udp_port=udp.getsockname()[1], pid=os.getpid())
    commands: dict[str, Callable[[dict[str, Any]], None]] = {
        "defer_sync": lambda m: defer_sync(channel, deferrer, m["n"], m.get("task", "noop")),
        "defer_async": lambda m: defer_async(channel, deferrer, m["n"]),
        "defer_many": lambda m: defer_many(
            channel, deferrer, m["n"], m["batch"], m.get("task", "noop")
        ),
        "latency": lambda m: latency(
            channel,
            deferrer,
            udp,
            samples=m["samples"],
            budget=m["budget"],
            first_seq=m["first_seq"],
            warm=m["warm"],
        ),
    }
    while True:
        message = channel.receive()
        if message["cmd"] == "quit":
            return
        commands[message["cmd"]](message)


if __name__ == "__main__":
    main()
