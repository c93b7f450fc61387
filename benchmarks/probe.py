"""What a benchmark task does when it runs: note the time, cheaply, where the harness can read it.

A worker process runs many jobs, so whatever a no-op task does must cost next to nothing. Two
channels, both set up by the harness through environment variables of the worker process:

- a stamp slot in a shared memory-mapped file (`BENCH_PROBE_FILE`, slot `BENCH_PROBE_SLOT`): the
  task writes the wall clock and the process CPU clock of the first and the latest job it ran, and
  the count, and, for tasks that call `job_ended`, the wall clock of the latest job end. The
  harness reads the slots while the drain runs (to know when it starts and ends) and after it
  (throughput from first to last job start, or to last job end; worker CPU). Worker start-up and
  shutdown are thereby left out of the figures. Sync tasks run in threads, hence the lock.
- a UDP datagram to the harness (`BENCH_PROBE_UDP`, "host:port" on the loopback): the latency task
  sends its start time back, so the harness waits on a socket instead of polling anything.

No Django import here: PgQueuer's worker uses this module too.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass

# first_wall, first_cpu, last_wall, last_cpu (seconds, float64), count (int64), last_end (float64).
SLOT = struct.Struct("<ddddqd")
SLOT_SIZE = 64  # one cache line each, so two processes never write the same line
MAX_SLOTS = 16


@dataclass(frozen=True)
class Stamp:
    first_wall: float
    first_cpu: float
    last_wall: float
    last_cpu: float
    count: int
    last_end: float  # 0.0 when the task never calls job_ended


class _Probe:
    def __init__(self) -> None:
        self._map: mmap.mmap | None = None
        self._offset = 0
        self._first_wall = 0.0
        self._first_cpu = 0.0
        self._last_wall = 0.0
        self._last_cpu = 0.0
        self._count = 0
        self._last_end = 0.0
        self._lock = threading.Lock()
        self._udp: socket.socket | None = None
        self._udp_address: tuple[str, int] | None = None
        self._ready = False

    def _setup(self) -> None:
        self._ready = True
        path = os.environ.get("BENCH_PROBE_FILE")
        if path:
            with open(path, "r+b") as file:
                self._map = mmap.mmap(file.fileno(), SLOT_SIZE * MAX_SLOTS)
            self._offset = SLOT_SIZE * int(os.environ.get("BENCH_PROBE_SLOT", "0"))
        address = os.environ.get("BENCH_PROBE_UDP")
        if address:
            host, port = address.rsplit(":", 1)
            self._udp_address = (host, int(port))
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def job_started(self) -> None:
        """Called first thing by every benchmark task."""
        with self._lock:
            if not self._ready:
                self._setup()
            if self._map is None:
                return
            wall = time.time()
            cpu = time.process_time()
            if not self._count:
                self._first_wall, self._first_cpu = wall, cpu
            self._count += 1
            self._last_wall, self._last_cpu = wall, cpu
            self._write()

    def job_ended(self) -> None:
        """Called last thing by the tasks whose rate runs to the last job's end."""
        with self._lock:
            if self._map is None:
                return
            self._last_end = max(self._last_end, time.time())
            self._write()

    def restart(self) -> None:
        """Forget the jobs so far (the floor's warm-up calls)."""
        with self._lock:
            self._count, self._last_end = 0, 0.0
            self._first_wall = self._first_cpu = self._last_wall = self._last_cpu = 0.0
            if self._map is not None:
                self._write()

    def _write(self) -> None:
        assert self._map is not None
        SLOT.pack_into(
            self._map,
            self._offset,
            self._first_wall,
            self._first_cpu,
            self._last_wall,
            self._last_cpu,
            self._count,
            self._last_end,
        )

    def report_start(self, seq: int, sent: float) -> None:
        """Latency task: send the start time of job `seq` (deferred at `sent`) to the harness."""
        started = time.time()
        if not self._ready:
            self._setup()
        if self._udp is not None and self._udp_address is not None:
            self._udp.sendto(f"{seq} {sent!r} {started!r}".encode(), self._udp_address)


probe = _Probe()


def create_stamp_file(path: str) -> None:
    with open(path, "wb") as file:
        file.write(b"\0" * SLOT_SIZE * MAX_SLOTS)


class StampReader:
    """The harness's side of the stamp file."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "r+b")  # noqa: SIM115 - kept open for the reader's lifetime
        self._map = mmap.mmap(self._file.fileno(), SLOT_SIZE * MAX_SLOTS)

    def reset(self) -> None:
        self._map[:] = b"\0" * SLOT_SIZE * MAX_SLOTS

    def read(self, slots: int) -> list[Stamp]:
        return [Stamp(*SLOT.unpack_from(self._map, SLOT_SIZE * slot)) for slot in range(slots)]

    def close(self) -> None:
        self._map.close()
        self._file.close()
