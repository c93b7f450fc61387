"""The project's own commands on the test's hosts: migrate, status, the client's defers and
`tasksqueue worker`, each a process of the venv's python started with `ip netns exec`."""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.multihost.hosts import Host, Network
from tests.utils.processes import ROOT, TIMEOUT
from tests.utils.waiting import wait_until

DATABASE = "taiga_multihost"
TASKS_MODULE = "tests.multihost.tasks"
TASK = f"{TASKS_MODULE}.record_run"
STALLED_AFTER_SECONDS = 3
DEFER_RESCUE = (
    "from taiga.tasksqueue.tasks import rescue_stalled_jobs\n"
    "rescue_stalled_jobs.defer_sync(timestamp=0)\n"
)
# Short heartbeats and stalled timeout, so that a host cut off is taken for dead within seconds.
QUEUE_SETTINGS = {
    "TASKS_MODULES_PATHS": TASKS_MODULE,
    "TASKSQUEUE_HEARTBEAT_SECONDS": "1",
    "TASKSQUEUE_STALLED_AFTER_SECONDS": str(STALLED_AFTER_SECONDS),
}


def environment(database_url: str) -> dict[str, str]:
    return {**os.environ, **QUEUE_SETTINGS, "DATABASE_URL": database_url}


def migrate(host: Host, database_url: str) -> None:
    result = manage(host, database_url, "migrate", "-v", "0")
    assert result.returncode == 0, result.stderr


def defer_rescue(host: Host, database_url: str) -> None:
    """Defer the app's rescue of stalled jobs, as its once-a-minute schedule would."""
    result = manage(host, database_url, "shell", "-c", DEFER_RESCUE)
    assert result.returncode == 0, result.stderr


def manage(host: Host, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` on `host`, to its end."""
    return subprocess.run(
        ["ip", "netns", "exec", host.netns, sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment(database_url),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )


@dataclass
class Worker:
    name: str
    host: Host
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, as a deploy stops it, and its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(TIMEOUT)


def start_worker(
    network: Network,
    host: Host,
    database_url: str,
    folder: Path,
    *,
    queue_url: str | None = None,
    concurrency: int = 8,
) -> Worker:
    """`tasksqueue worker` on `host`, once it says it started; its tasks connect to
    `database_url`, its own pool and LISTEN to `queue_url` (TASKSQUEUE_WORKER_DATABASE_URL) when
    given. Named after the host: the default name, HOST:PID, has the same host for all, since the
    hosts are network namespaces of one machine."""
    log_path = folder / f"worker-{host.name}.log"
    env = environment(database_url)
    if queue_url is not None:
        env["TASKSQUEUE_WORKER_DATABASE_URL"] = queue_url
    command = ["manage.py", "tasksqueue", "worker", "-c", str(concurrency), "-n", host.name]
    process = network.start(host, [sys.executable, *command], log=log_path, env=env, cwd=ROOT)
    worker = Worker(host.name, host, process, log_path)
    wait_until(
        lambda: f"worker '{host.name}' started" in worker.log() or not worker.alive(),
        f"the worker on {host.name} to start",
        interval=0.1,
        details=worker.log,
    )
    assert worker.alive(), worker.log()
    return worker


@dataclass
class Client:
    """The web side's defers (tests/multihost/client.py) running on a host."""

    process: subprocess.Popen[str]
    output: Path

    def deferred(self) -> list[int]:
        """The ids of the jobs whose defer has returned so far."""
        return [
            int(job_id)
            for line in self.output.read_text().splitlines()
            if line.startswith("deferred ")
            for job_id in line.split()[1:]
        ]

    def failures(self) -> list[str]:
        return [line for line in self.output.read_text().splitlines() if line.startswith("failed")]

    def finish(self) -> int:
        return self.process.wait(TIMEOUT * 2)


def start_client(
    network: Network,
    host: Host,
    database_url: str,
    folder: Path,
    *,
    count: int,
    batch: int,
    pause: float = 0.0,
) -> Client:
    output = folder / f"client-{host.name}.log"
    process = network.start(
        host,
        [sys.executable, "-m", "tests.multihost.client", str(count), str(batch), str(pause)],
        log=output,
        env=environment(database_url),
        cwd=ROOT,
    )
    return Client(process, output)
