"""A real `tasksqueue worker` in a process of its own, and HTTP requests to its endpoints."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.utils import processes
from tests.utils.waiting import wait_until

TASKS = "tests.tasksqueue.observability.worker_tasks"

# A sample by name and labels (sorted pairs), e.g. ("..._total", (("queue", "default"), ...)).
SampleKey = tuple[str, tuple[tuple[str, str], ...]]


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def wait_until(self, condition: Any, what: str) -> None:
        wait_until(condition, what, interval=0.1, details=self.tail)

    def wait_for_health(self, port: int, path: str, expected: tuple[int, Any]) -> None:
        """Until `path` answers `expected`; a failure shows the last answer and the log."""
        answers: list[tuple[int, Any] | None] = [None]

        def answered() -> bool:
            answers[0] = health(port, path)
            return answers[0] == expected

        wait_until(
            answered,
            f"{path} to answer {expected}",
            interval=0.1,
            details=lambda: f"last answer: {answers[0]}\n{self.tail()}",
        )


@contextlib.contextmanager
def running_worker(log: Path, *options: str) -> Iterator[WorkerProcess]:
    """`manage.py tasksqueue worker OPTIONS` on the test database until the block ends, then
    stopped by SIGTERM (killed if it does not stop)."""
    env = {
        **os.environ,
        "DATABASE_URL": processes.database_url(),
        "TASKS_MODULES_PATHS": TASKS,
    }
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "tasksqueue", "worker", *options],
            cwd=processes.ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield WorkerProcess(process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=processes.TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(port: int, path: str, method: str = "GET") -> tuple[int, bytes] | None:
    """(status, body) of METHOD http://127.0.0.1:PORT/PATH; None when nothing answers."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None


def health(port: int, path: str) -> tuple[int, Any] | None:
    answer = get(port, path)
    return None if answer is None else (answer[0], json.loads(answer[1]))


def scrape(port: int) -> dict[SampleKey, float]:
    """Every sample of the worker's /metrics, parsed by prometheus_client's own parser."""
    answer = get(port, "/metrics")
    assert answer is not None, "nothing answers on the metrics port"
    status, body = answer
    assert status == 200, body
    samples: dict[SampleKey, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
