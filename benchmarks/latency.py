"""The latency phase: time from defer to task start, each system's worker idle between samples.

Every system's idle worker and client run at once, and the samples are taken in rounds, the
systems taking turns: the machine's speed drifts by more than the gap between close systems within
a minute, so a ratio from one block per system would measure the drift. Percentiles are over the
samples of all rounds. A module of its own because it drives all systems together, where the
harness's other measurements (benchmarks.runner) take one system at a time.
"""

from __future__ import annotations

from typing import Any

from benchmarks import runner
from benchmarks.figures import latency_line, latency_summary
from benchmarks.processes import ChildFailed, Client, Workers
from benchmarks.systems import System


def _start(harness: runner.Harness, system: System) -> tuple[Client, Workers]:
    """The system's client, and one idle worker (concurrency 1) that answers it over UDP."""
    url = harness.server.url(system.database)
    system.reset(harness.server)
    client = Client(system, harness.env(system, url), harness.log_path(system, "latency-client"))
    workers = Workers(
        system,
        harness.env(system, url, BENCH_PROBE_UDP=f"127.0.0.1:{client.udp_port}"),
        concurrency=1,
        processes=1,
        one_shot=False,
        log_path=harness.log_path(system, "latency-worker"),
    )
    return client, workers


def run(harness: runner.Harness, systems: list[System]) -> dict[str, dict[str, Any]]:
    """Latency figures by system key, or the error and worker log tail of a system that failed."""
    plan = harness.plan
    rounds = plan.latency_rounds
    per_round = -(-plan.latency_samples // rounds)
    running: dict[str, tuple[Client, Workers]] = {}
    values: dict[str, list[float]] = {system.key: [] for system in systems}
    missed = dict.fromkeys(values, 0)
    errors: dict[str, dict[str, Any]] = {}
    try:
        for system in systems:
            running[system.key] = _start(harness, system)
        for number in range(rounds):
            harness.say(f"  round {number + 1} of {rounds}")
            for system in systems:
                if system.key in errors:
                    continue
                client, workers = running[system.key]
                arguments = {
                    "samples": max(0, min(per_round, plan.latency_samples - number * per_round)),
                    "budget": plan.latency_budget_s / rounds,
                    "first_seq": number * per_round,
                    "warm": number == 0,
                }
                try:
                    done = client.run("latency", arguments, timeout=300, alive=workers.running)
                except ChildFailed as exc:
                    done = {"error": str(exc)}
                if done.get("error"):
                    errors[system.key] = {"error": done["error"], "worker_log": workers.log_tail()}
                    harness.say(f"  {system.label}: latency FAILED: {done['error']}")
                    continue
                values[system.key] += done["values"]
                missed[system.key] += done["missed"]
    finally:
        for client, workers in running.values():
            client.close()
            workers.close()
        for system in systems:
            system.reset(harness.server)
    results: dict[str, dict[str, Any]] = dict(errors)
    for system in systems:
        if system.key not in errors:
            results[system.key] = latency_summary(values[system.key], missed[system.key])
            harness.say(f"  {system.label}: {latency_line(results[system.key])}")
    return results
