"""Hosts for the multi-host tests: Linux network namespaces joined by a bridge.

Every host is a network namespace with loopback up and one interface (`eth0`), the end of a veth
pair whose other end is a port of a bridge in a namespace of the network's own (the switch). All
addresses are in the one /24 the test chooses; nothing in the namespaces can reach any other
network, and the machine's own namespace gets no interface. Processes run on a host through
`ip netns exec`, each in a process group of its own so that closing the network can kill it with
everything it started; then the namespaces go, which removes their links.

Namespaces and the servers' temporary folders are named `tqmh-<pid of the test process>-...`, so
what a run whose process died without closing its network (kill -9) left is recognised and cleared
by the next one.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

PREFIX = "tqmh"
SWITCH = "switch"
COMMAND_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
NETNS_DIR = Path("/run/netns")


class CannotBuildHosts(Exception):
    """Network namespaces cannot be made here; the message says why, in one line."""


def _ip(*args: str) -> None:
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def _namespace_pids(netns: str) -> list[int]:
    result = subprocess.run(
        ["ip", "netns", "pids", netns],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return [int(pid) for pid in result.stdout.split()]


def _kill_all_in(netns: str) -> None:
    """SIGKILL whatever still runs in `netns` and wait for it, so the namespace can go."""
    for pid in _namespace_pids(netns):
        try:
            process = psutil.Process(pid)
            process.kill()
            process.wait(STOP_TIMEOUT)
        except psutil.NoSuchProcess:
            pass


def _delete_namespace(netns: str) -> None:
    _kill_all_in(netns)
    subprocess.run(["ip", "netns", "delete", netns], capture_output=True, timeout=COMMAND_TIMEOUT)


def leftover_prefix() -> str:
    """The start of the name of what this process makes (namespaces, temporary folders)."""
    return f"{PREFIX}-{os.getpid()}-"


def _of_a_dead_run(path: Path) -> bool:
    match = re.fullmatch(rf"{PREFIX}-(\d+)-.+", path.name)
    return match is not None and not psutil.pid_exists(int(match[1]))


def clear_leftovers() -> None:
    """Delete the namespaces (with their processes) and the temporary folders of earlier runs
    whose test process is gone."""
    if NETNS_DIR.is_dir():
        for entry in NETNS_DIR.iterdir():
            if _of_a_dead_run(entry):
                _delete_namespace(entry.name)
    for entry in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*"):
        if _of_a_dead_run(entry):
            shutil.rmtree(entry, ignore_errors=True)


def check_possible() -> None:
    """Raise CannotBuildHosts unless this process can make network namespaces."""
    if os.geteuid() != 0:
        raise CannotBuildHosts("network namespaces need root (the tests run `ip netns add`)")
    if shutil.which("ip") is None:
        raise CannotBuildHosts("no `ip` command (Debian's iproute2 package)")
    probe = leftover_prefix() + "probe"
    try:
        _ip("netns", "add", probe)
    except (RuntimeError, OSError) as exc:
        raise CannotBuildHosts(f"`ip netns add` failed here ({exc})") from exc
    _delete_namespace(probe)


@dataclass(frozen=True)
class Host:
    name: str
    netns: str
    address: str

    def call(self, function: Callable[[], Any]) -> Any:
        """Run `function` in a thread that has joined this host's network namespace, and return
        what it returns: sockets it opens (a database connection, say) stay on this host after the
        thread is gone, which lets the test process look at the hosts' databases directly."""
        outcome: dict[str, Any] = {}

        def joined() -> None:
            try:
                with (NETNS_DIR / self.netns).open() as namespace:
                    os.setns(namespace.fileno(), os.CLONE_NEWNET)
                outcome["value"] = function()
            except BaseException as exc:  # handed back to the calling thread
                outcome["error"] = exc

        thread = threading.Thread(target=joined, name=f"on-{self.name}")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


class Network:
    """Hosts on one /24 (`subnet` like "10.213.17"): host N gets `subnet.N+1`."""

    def __init__(self, subnet: str) -> None:
        self.subnet = subnet
        self.hosts: dict[str, Host] = {}
        self.processes: list[subprocess.Popen[Any]] = []
        self._switch = self._namespace(SWITCH)

    def open(self) -> None:
        """Make the switch: a namespace with a bridge, which each host's link joins."""
        _ip("netns", "add", self._switch)
        self._up(self._switch, "lo")
        _ip("-n", self._switch, "link", "add", "br0", "type", "bridge")
        self._up(self._switch, "br0")

    def _namespace(self, name: str) -> str:
        return leftover_prefix() + name

    @staticmethod
    def _up(netns: str, link: str) -> None:
        _ip("-n", netns, "link", "set", link, "up")

    def add_host(self, name: str) -> Host:
        host = Host(name, self._namespace(name), f"{self.subnet}.{len(self.hosts) + 2}")
        _ip("netns", "add", host.netns)
        self.hosts[name] = host
        self._up(host.netns, "lo")
        port = self._port(host)
        _ip(
            "-n",
            self._switch,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "eth0",
            "netns",
            host.netns,
        )
        _ip("-n", self._switch, "link", "set", port, "master", "br0")
        self._up(self._switch, port)
        _ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        self._up(host.netns, "eth0")
        return host

    @staticmethod
    def _port(host: Host) -> str:
        return f"p-{host.name}"[:15]  # an interface name has at most 15 characters

    def cut(self, host: Host) -> None:
        """Take the host's link to the switch down: its packets go nowhere, as with a pulled
        cable; its processes go on running."""
        _ip("-n", self._switch, "link", "set", self._port(host), "down")

    def start(
        self,
        host: Host,
        argv: list[str],
        *,
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[str]:
        """Start `argv` on `host`, its output appended to `log`."""
        with log.open("a") as output:  # the child keeps its own copy
            process = subprocess.Popen(
                ["ip", "netns", "exec", host.netns, *argv],
                env=env,
                cwd=cwd,
                stdout=output,
                stderr=output,
                text=True,
                start_new_session=True,  # a process group of its own, killed as one
            )
        self.processes.append(process)
        return process

    def close(self) -> None:
        """Kill every process started here, with its process group, then delete the namespaces."""
        for process in self.processes:
            # The group too when its leader is gone: a postmaster killed alone leaves backends.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)
        for host in self.hosts.values():
            _delete_namespace(host.netns)
        _delete_namespace(self._switch)
