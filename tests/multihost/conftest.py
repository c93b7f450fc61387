"""Fixtures of the multi-host tests: hosts as network namespaces, a folder for their servers,
and the figures each test reports at the end of pytest's output.

The tests need root (for `ip netns`), the `ip` command and, for the PgBouncer test, Debian's
pgbouncer; without them they are skipped with one line saying what is missing.
"""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.multihost import hosts, postgres

FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def hosts_possible() -> None:
    try:
        hosts.check_possible()
        postgres.ensure_runnable()
    except hosts.CannotBuildHosts as exc:
        pytest.skip(f"multi-host tests skipped: {exc}")
    hosts.clear_leftovers()


@pytest.fixture
def pgbouncer_installed() -> None:
    if postgres.pgbouncer() is None:
        pytest.skip(f"multi-host PgBouncer test: {postgres.PGBOUNCER_PACKAGE_LINE}")


@pytest.fixture
def folder(hosts_possible: None) -> Iterator[Path]:
    """The servers' data, configurations and logs; owned by the servers' system user, so it is
    not pytest's tmp_path, which that user cannot enter."""
    path = Path(tempfile.mkdtemp(prefix=hosts.leftover_prefix()))
    postgres.give_to_system_user(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def network_on(hosts_possible: None, folder: Path) -> Iterator[Callable[[str], hosts.Network]]:
    """`network_on("10.213.17")`: a network of hosts on that /24, torn down after the test
    (before `folder`, which its servers write to)."""
    networks: list[hosts.Network] = []

    def build(subnet: str) -> hosts.Network:
        network = hosts.Network(subnet)
        networks.append(network)
        network.open()
        return network

    yield build
    for network in networks:
        network.close()


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    """Closes what a test enters in it (its database connections), after the test."""
    with ExitStack() as exits:
        yield exits


@pytest.fixture
def report_figures(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Add a line to the figures shown at the end of pytest's output."""
    lines = request.config.stash.setdefault(FIGURES, [])
    return lambda line: lines.append(f"{request.node.name}: {line}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("multi-host figures")
        for line in lines:
            terminalreporter.write_line(line)
