"""The measurements, each run for every system back to back so they share the machine's mood."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks import db
from benchmarks.figures import (
    Drain,
    Plan,
    fmt,
    latency_line,
    latency_summary,
    stamp_rate,
)
from benchmarks.probe import StampReader, create_stamp_file
from benchmarks.processes import ChildFailed, Client, Workers
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
                system, self._env(system, url), self._log(system, "fill-client")
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

    def _log(self, system: System, what: str) -> Path:
        path = self.logs / f"{system.key}-{what}.log"
        path.write_bytes(b"")
        return path

    def _env(self, system: System, url: str, **extra: str) -> dict[str, str]:
        return system.env(url, {"BENCH_PROBE_FILE": self.stamp_path, **extra})

    # Defers ---------------------------------------------------------------------------------

    def defers(self, system: System) -> dict[str, Any]:
        results: dict[str, Any] = {}
        url = self.server.url(system.database)
        client = Client(system, self._env(system, url), self._log(system, "client"))
        backends = db.BackendCpu(self.server, system.database)
        try:
            for cmd, label, arguments in (
                ("defer_sync", "one per call, sync", {"n": self.plan.defer_single}),
                ("defer_async", "one per call, async", {"n": self.plan.defer_single}),
                (
                    "defer_many",
                    f"batches of {self.plan.batch}",
                    {"n": self.plan.defer_many, "batch": self.plan.batch},
                ),
            ):
                marks: dict[str, dict[int, float]] = {}

                def before(marks: dict[str, dict[int, float]] = marks) -> None:
                    system.reset(self.server)
                    marks["before"] = backends.sample()

                def after(marks: dict[str, dict[int, float]] = marks) -> None:
                    marks["after"] = backends.sample()

                done = client.run(cmd, arguments, before=before, after=after)
                jobs = int(done["jobs"])
                pg_cpu = db.BackendCpu.delta(marks["before"], marks["after"])
                results[cmd] = {
                    "jobs": jobs,
                    "seconds": done["seconds"],
                    "jobs_per_s": jobs / done["seconds"],
                    "client_cpu_ms_per_job": 1000 * done["client_cpu"] / jobs,
                    "pg_cpu_ms_per_job": 1000 * pg_cpu / jobs if backends.enabled else None,
                }
                self.say(
                    f"  {system.label}: defer {label}: {results[cmd]['jobs_per_s']:,.0f} jobs/s"
                )
        finally:
            client.close()
            backends.close()
            system.reset(self.server)
        return results

    # Latency --------------------------------------------------------------------------------

    def latency(self, systems: list[System]) -> dict[str, dict[str, Any]]:
        """Every system's idle worker and client run at once, and the samples are taken in
        rounds, the systems taking turns: the machine's speed drifts by more than the gap
        between close systems within a minute, so a ratio from one block per system would
        measure the drift. Percentiles are over the samples of all rounds."""
        rounds = self.plan.latency_rounds
        per_round = -(-self.plan.latency_samples // rounds)
        running: dict[str, tuple[Client, Workers]] = {}
        values: dict[str, list[float]] = {system.key: [] for system in systems}
        missed = dict.fromkeys(values, 0)
        errors: dict[str, dict[str, Any]] = {}
        try:
            for system in systems:
                url = self.server.url(system.database)
                system.reset(self.server)
                client = Client(system, self._env(system, url), self._log(system, "latency-client"))
                running[system.key] = (
                    client,
                    Workers(
                        system,
                        self._env(system, url, BENCH_PROBE_UDP=f"127.0.0.1:{client.udp_port}"),
                        concurrency=1,
                        processes=1,
                        one_shot=False,
                        log_path=self._log(system, "latency-worker"),
                    ),
                )
            for number in range(rounds):
                self.say(f"  round {number + 1} of {rounds}")
                for system in systems:
                    if system.key in errors:
                        continue
                    client, workers = running[system.key]
                    arguments = {
                        "samples": max(
                            0, min(per_round, self.plan.latency_samples - number * per_round)
                        ),
                        "budget": self.plan.latency_budget_s / rounds,
                        "first_seq": number * per_round,
                        "warm": number == 0,
                    }
                    try:
                        done = client.run("latency", arguments, timeout=300, alive=workers.running)
                    except ChildFailed as exc:
                        done = {"error": str(exc)}
                    if done.get("error"):
                        errors[system.key] = {
                            "error": done["error"],
                            "worker_log": workers.log_tail(),
                        }
                        self.say(f"  {system.label}: latency FAILED: {done['error']}")
                        continue
                    values[system.key] += done["values"]
                    missed[system.key] += done["missed"]
        finally:
            for client, workers in running.values():
                client.close()
                workers.close()
            for system in systems:
                system.reset(self.server)
        results: dict[str, dict[str, Any]] = dict(errors)
        for system in systems:
            if system.key not in errors:
                results[system.key] = latency_summary(values[system.key], missed[system.key])
                self.say(f"  {system.label}: {latency_line(results[system.key])}")
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
        result = Drain(concurrency, processes, jobs, task)
        direct_url = self.server.url(system.database)
        worker_url = (
            self.server.url(system.database, port=proxy.port) if proxy is not None else direct_url
        )
        tag = f"drain-c{concurrency}-p{processes}" + ("-rt" if proxy else "")
        if task != "noop":
            tag += f"-{task}"
        self._fill(system, self._fill_client(system), jobs, task)

        backends = db.BackendCpu(self.server, system.database)
        self.stamps.reset()
        workers = Workers(
            system,
            self._env(system, worker_url),
            concurrency=concurrency,
            processes=processes,
            one_shot=True,
            log_path=self._log(system, tag),
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
            client = Client(system, self._env(system, url), self._log(system, "rt-client"))
            try:
                for cmd, arguments in (
                    ("defer_sync", {"n": self.plan.rt_defers}),
                    ("defer_async", {"n": self.plan.rt_defers}),
                    ("defer_many", {"n": self.plan.batch * 2, "batch": self.plan.batch}),
                ):
                    marks: dict[str, Counts] = {}

                    def before(marks: dict[str, Counts] = marks) -> None:
                        system.reset(self.server)
                        marks["before"] = proxy.snapshot()

                    def after(marks: dict[str, Counts] = marks) -> None:
                        marks["after"] = proxy.snapshot()

                    done = client.run(cmd, arguments, before=before, after=after)
                    jobs = int(done["jobs"])
                    trips = marks["after"].round_trips - marks["before"].round_trips
                    statements = marks["after"].statements - marks["before"].statements
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
        self.say(
            f"  {system.label}: round trips per single defer "
            f"{results['defer_sync']['round_trips_per_job']:.2f}, per job drained (c1) "
            f"{fmt(d.get('round_trips_per_job'))}, statements per job (c1) "
            f"{fmt(d.get('statements_per_job'))}"
        )
        return results
