"""The measurements, each run for every system back to back so they share the machine's mood."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks import db
from benchmarks.figures import Drain, Plan, fmt, stamp_rate
from benchmarks.probe import StampReader, create_stamp_file
from benchmarks.processes import Client, Workers
from benchmarks.proxy import CountingProxy, Counts
from benchmarks.systems import System


@dataclass(frozen=True)
class Mark:
    """What the harness notes when a drain starts (first job ran) and ends (last job ran)."""

    total: int
    backends: dict[int, float]
    counts: Counts | None
    at: float = field(default_factory=time.monotonic)
    machine_busy: float = field(default_factory=lambda: _busy(psutil.cpu_times()))
    harness_cpu: float = field(default_factory=lambda: _own_cpu(psutil.Process()))


def _busy(times: Any) -> float:
    """CPU seconds spent running something, all cores (not idle, I/O wait or stolen)."""
    names = ("user", "nice", "system", "irq", "softirq")
    return float(sum(getattr(times, name, 0.0) for name in names))


def _own_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class Harness:
    def __init__(self, server: db.Server, plan: Plan, work_dir: Path) -> None:
        self.server = server
        self.plan = plan
        self.work_dir = work_dir
        self.logs = work_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stamp_path = str(work_dir / "stamps.bin")
        create_stamp_file(self.stamp_path)
        self.stamps = StampReader(self.stamp_path)
        self.t0 = time.monotonic()
        self._fill_clients: dict[str, Client] = {}

    def _fill_client(self, system: System) -> Client:
        """One client per system fills the queue before every drain (it idles during drains)."""
        if system.key not in self._fill_clients:
            url = self.server.url(system.database)
            self._fill_clients[system.key] = Client(
                system, self.env(system, url), self.log_path(system, "fill-client")
            )
        return self._fill_clients[system.key]

    def close(self) -> None:
        for client in self._fill_clients.values():
            client.close()
        self._fill_clients.clear()
        self.stamps.close()

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - self.t0
        print(f"[{elapsed:6.1f}s] {message}", flush=True)

    def log_path(self, system: System, what: str) -> Path:
        path = self.logs / f"{system.key}-{what}.log"
        path.write_bytes(b"")
        return path

    def env(self, system: System, url: str, **extra: str) -> dict[str, str]:
        return system.env(url, {"BENCH_PROBE_FILE": self.stamp_path, **extra})

    # Defers ---------------------------------------------------------------------------------

    def _defer_commands(
        self, system: System, single: int, many: int
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """The client's defer commands (name, label, arguments) that `system` can run."""
        commands = [
            ("defer_sync", "one per call, sync", {"n": single}),
            ("defer_async", "one per call, async", {"n": single}),
            ("defer_many", f"batches of {self.plan.batch}", {"n": many, "batch": self.plan.batch}),
        ]
        return [c for c in commands if system.sync_defers or c[0] != "defer_sync"]

    def _between[T](
        self,
        system: System,
        client: Client,
        cmd: str,
        arguments: dict[str, Any],
        sample: Callable[[], T],
    ) -> tuple[dict[str, Any], T, T]:
        """Run a client command on an emptied queue; `sample` right before and right after it."""
        marks: list[T] = []

        def before() -> None:
            system.reset(self.server)
            marks.append(sample())

        done = client.run(cmd, arguments, before=before, after=lambda: marks.append(sample()))
        return done, marks[0], marks[1]

    def timed_defers(
        self,
        system: System,
        client: Client,
        backends: db.BackendCpu,
        cmd: str,
        arguments: dict[str, Any],
    ) -> dict[str, Any]:
        """One client defer command on an emptied queue: its rate, client and PostgreSQL CPU.

        The jobs it deferred stay in the queue."""
        done, first, last = self._between(system, client, cmd, arguments, backends.sample)
        jobs = int(done["jobs"])
        pg_cpu = db.BackendCpu.delta(first, last)
        return {
            "jobs": jobs,
            "seconds": done["seconds"],
            "jobs_per_s": jobs / done["seconds"],
            "client_cpu_ms_per_job": 1000 * done["client_cpu"] / jobs,
            "pg_cpu_ms_per_job": 1000 * pg_cpu / jobs if backends.enabled else None,
        }

    def defers(self, system: System) -> dict[str, Any]:
        results: dict[str, Any] = {}
        url = self.server.url(system.database)
        client = Client(system, self.env(system, url), self.log_path(system, "client"))
        backends = db.BackendCpu(self.server, system.database)
        try:
            commands = self._defer_commands(system, self.plan.defer_single, self.plan.defer_many)
            for cmd, label, arguments in commands:
                results[cmd] = self.timed_defers(system, client, backends, cmd, arguments)
                self.say(
                    f"  {system.label}: defer {label}: {results[cmd]['jobs_per_s']:,.0f} jobs/s"
                )
        finally:
            client.close()
            backends.close()
            system.reset(self.server)
        return results

    # Drains ---------------------------------------------------------------------------------

    def _fill(self, system: System, client: Client, jobs: int, task: str) -> float:
        done = client.run(
            "defer_many",
            {"n": jobs, "batch": self.plan.batch, "task": task},
            before=lambda: system.reset(self.server),
        )
        system.analyze_filled(self.server)
        return float(done["jobs"]) / float(done["seconds"])

    def drain(
        self,
        system: System,
        concurrency: int,
        processes: int,
        jobs: int,
        proxy: CountingProxy | None = None,
        task: str = "noop",
    ) -> Drain:
        """Fill the queue with `jobs` jobs of `task` (the system's batch defer), then drain it."""
        tag = f"drain-c{concurrency}-p{processes}" + ("-rt" if proxy else "")
        if task != "noop":
            tag += f"-{task}"
        self._fill(system, self._fill_client(system), jobs, task)
        return self.drain_filled(system, concurrency, processes, jobs, tag, proxy, task)

    def drain_filled(
        self,
        system: System,
        concurrency: int,
        processes: int,
        jobs: int,
        tag: str,
        proxy: CountingProxy | None = None,
        task: str = "noop",
    ) -> Drain:
        """Drain a queue filled with `jobs` jobs (one-shot workers), then empty the queue.

        `tag` names the worker log (benchmarks/results/logs/<system>-<tag>.log)."""
        result = Drain(concurrency, processes, jobs, task)
        direct_url = self.server.url(system.database)
        worker_url = (
            self.server.url(system.database, port=proxy.port) if proxy is not None else direct_url
        )
        backends = db.BackendCpu(self.server, system.database)
        self.stamps.reset()
        workers = Workers(
            system,
            self.env(system, worker_url),
            concurrency=concurrency,
            processes=processes,
            one_shot=True,
            log_path=self.log_path(system, tag),
        )
        base: Mark | None = None
        final: Mark | None = None
        deadline = time.monotonic() + 120 + jobs / 20
        last_sample = 0.0

        def mark(total: int) -> Mark:
            return Mark(total, backends.sample(), proxy.snapshot() if proxy else None)

        try:
            while time.monotonic() < deadline:
                total = sum(stamp.count for stamp in self.stamps.read(processes))
                now = time.monotonic()
                if base is None and total:
                    base = mark(total)
                    last_sample = now
                elif base is not None and total >= jobs:
                    final = mark(total)
                    break
                elif base is not None and now - last_sample > 0.2:
                    backends.sample()
                    last_sample = now
                if not workers.running():
                    if base is not None:
                        final = mark(sum(stamp.count for stamp in self.stamps.read(processes)))
                    break
                time.sleep(0.005)
            exited = workers.wait(timeout=60)
        finally:
            workers.close()
            backends.close()
        result.wall_s = time.time() - workers.started
        stamps = [stamp for stamp in self.stamps.read(processes) if stamp.count]
        done = sum(stamp.count for stamp in stamps)
        result.outcome = system.outcome(self.server)
        succeeded = system.succeeded(result.outcome)
        if stamps and done > len(stamps):
            result.span_s, result.jobs_per_s = stamp_rate(stamps)
            cpu = sum(s.last_cpu - s.first_cpu for s in stamps)
            result.worker_cpu_ms_per_job = 1000 * cpu / (done - len(stamps))
        if base is not None and final is not None and final.total > base.total:
            counted = final.total - base.total
            elapsed = final.at - base.at
            pg_cpu = db.BackendCpu.delta(base.backends, final.backends)
            if backends.enabled:
                result.pg_cpu_ms_per_job = 1000 * pg_cpu / counted
            if base.counts is not None and final.counts is not None:
                trips = final.counts.round_trips - base.counts.round_trips
                statements = final.counts.statements - base.counts.statements
                result.round_trips_per_job = trips / counted
                result.statements_per_job = statements / counted
            # CPU used on this machine by anything but the workers, their backends and this
            # harness, as a share of all cores: other people's work that skews the figure.
            busy = final.machine_busy - base.machine_busy
            ours = final.harness_cpu - base.harness_cpu + pg_cpu
            ours += (result.worker_cpu_ms_per_job or 0) * counted / 1000
            cores = psutil.cpu_count() or 1
            if elapsed > 0:
                result.other_load = max(0.0, (busy - ours) / (elapsed * cores))
        problems = []
        if done < jobs:
            problems.append(f"only {done} of {jobs} jobs ran")
        if succeeded < jobs:
            problems.append(f"{succeeded} of {jobs} jobs recorded as succeeded: {result.outcome}")
        if not exited:
            problems.append("a worker did not exit by itself once the queue was empty")
        if workers.failures():
            problems.append(f"worker exit codes {workers.failures()}")
        result.ok = not problems
        result.error = "; ".join(problems) or None
        if problems:
            self.say(f"  {system.label}: {tag} PROBLEM: {result.error}")
            self.say(f"  worker log ({workers.log_path}) ends with:\n{workers.log_tail()}")
        system.reset(self.server)
        return result

    # Round trips ----------------------------------------------------------------------------

    def round_trips(self, system: System) -> dict[str, Any]:
        proxy = CountingProxy(self.server.host, self.server.port).start()
        results: dict[str, Any] = {}
        try:
            url = self.server.url(system.database, port=proxy.port)
            client = Client(system, self.env(system, url), self.log_path(system, "rt-client"))
            try:
                commands = self._defer_commands(system, self.plan.rt_defers, 2 * self.plan.batch)
                for cmd, _, arguments in commands:
                    done, first, last = self._between(
                        system, client, cmd, arguments, proxy.snapshot
                    )
                    jobs = int(done["jobs"])
                    trips = last.round_trips - first.round_trips
                    statements = last.statements - first.statements
                    results[cmd] = {
                        "round_trips_per_job": trips / jobs,
                        "statements_per_job": statements / jobs,
                        "round_trips_per_1000_jobs": 1000 * trips / jobs,
                    }
            finally:
                client.close()
            for concurrency in self.plan.rt_drain_concurrency:
                drain = self.drain(system, concurrency, 1, self.plan.rt_drain_jobs, proxy=proxy)
                results[f"drain_c{concurrency}"] = {
                    "round_trips_per_job": drain.round_trips_per_job,
                    "statements_per_job": drain.statements_per_job,
                    "ok": drain.ok,
                }
        finally:
            proxy.stop()
            system.reset(self.server)
        d = results.get("drain_c1", {})
        single = "defer_sync" if "defer_sync" in results else "defer_async"
        self.say(
            f"  {system.label}: round trips per single defer ({single.removeprefix('defer_')}) "
            f"{results[single]['round_trips_per_job']:.2f}, per job drained (c1) "
            f"{fmt(d.get('round_trips_per_job'))}, statements per job (c1) "
            f"{fmt(d.get('statements_per_job'))}"
        )
        return results
