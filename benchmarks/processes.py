"""Child processes of the harness: the deferring client and the workers."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from benchmarks import db
from benchmarks.systems import PY, System


class ChildFailed(RuntimeError):
    pass


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Client:
    """`python -m benchmarks.client DEFERRER`, driven line by line (see benchmarks.client)."""

    def __init__(self, system: System, env: dict[str, str], log_path: Path) -> None:
        self.system = system
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self.process = subprocess.Popen(
            [PY, "-m", "benchmarks.client", system.client_key],
            cwd=db.ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        hello = self._receive(timeout=120)
        self.udp_port = int(hello["udp_port"])

    def _receive(self, timeout: float, alive: Callable[[], bool] = lambda: True) -> dict[str, Any]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and alive():
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                break
        if not line:
            self.process.kill()
            raise ChildFailed(
                f"{self.system.label} client stopped answering (or what it waited for stopped); "
                f"its log ({self.log_path}) ends with:\n{_tail(self.log_path)}"
            )
        message: dict[str, Any] = json.loads(line)
        return message

    def _send(self, **message: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def run(
        self,
        cmd: str,
        arguments: dict[str, Any],
        before: Callable[[], None] = lambda: None,
        after: Callable[[], None] = lambda: None,
        timeout: float = 600,
        alive: Callable[[], bool] = lambda: True,
    ) -> dict[str, Any]:
        """Run one command: `before` once it is warmed up, `after` as soon as it is done.

        `alive` says whether what the command depends on (a worker) still runs."""
        self._send(cmd=cmd, **arguments)
        self._receive(timeout, alive)  # ready
        before()
        self._send(cmd="go")
        done = self._receive(timeout, alive)
        after()
        return done

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._send(cmd="quit")
                self.process.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()


class Workers:
    """One or more worker processes of a system, their output in a log file."""

    def __init__(
        self,
        system: System,
        env: dict[str, str],
        concurrency: int,
        processes: int,
        one_shot: bool,
        log_path: Path,
    ) -> None:
        self.system = system
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        argv = system.worker_argv(concurrency, one_shot)
        self._log.write(f"$ {' '.join(argv)}  (x{processes})\n".encode())
        self._log.flush()
        self.started = time.time()
        self.processes = [
            subprocess.Popen(
                argv,
                cwd=db.ROOT,
                env={**env, "BENCH_PROBE_SLOT": str(slot)},
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for slot in range(processes)
        ]

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def running(self) -> bool:
        return any(process.poll() is None for process in self.processes)

    def wait(self, timeout: float) -> bool:
        """Wait for every process to exit by itself; False if one had to be stopped."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stop()
                return False
        return True

    def stop(self, grace: float = 20) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def failures(self) -> list[int]:
        return [code for process in self.processes if (code := process.returncode)]

    def log_tail(self) -> str:
        return _tail(self.log_path)

    def close(self) -> None:
        self.stop()
        self._log.close()
