"""The worker's exporter options on the command line: refused values and ports that cannot be
had stop it with one line naming the option and the fix."""

import socket

import pytest

from tests.tasksqueue.observability.worker_process import TASKS
from tests.utils.processes import database_url, manage


def worker(*options: str):
    return manage(
        "tasksqueue",
        "worker",
        "--one-shot",
        *options,
        env={"DATABASE_URL": database_url(), "TASKS_MODULES_PATHS": TASKS},
    )


@pytest.mark.parametrize("option", ["--metrics-port", "--health-port"])
@pytest.mark.parametrize("value", ["65536", "-1", "http"])
def test_a_port_out_of_range_is_refused_in_one_line(option, value):
    result = worker(option, value)

    assert result.returncode == 2
    assert result.stderr == (
        f"manage.py tasksqueue worker: error: argument {option}: expected a TCP port from 1 to "
        f"65535 (0: any free one), got {value!r} (see `manage.py tasksqueue worker --help`)\n"
    )


@pytest.mark.django_db(transaction=True)
def test_a_port_already_taken_stops_the_worker_at_start_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = worker("--metrics-port", str(port))

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"CommandError: --metrics-port: cannot listen on 127.0.0.1:{port} (Address already in "
        "use); choose a free port or another address (--metrics-address)"
    )


@pytest.mark.django_db(transaction=True)
def test_an_address_that_does_not_resolve_stops_the_worker_at_start_in_one_line():
    result = worker("--health-port", "0", "--metrics-address", "nowhere.invalid")

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "CommandError: --health-port: cannot listen on nowhere.invalid:0 ("
    )
    assert result.stderr.splitlines()[-1].endswith(
        "); choose a free port or another address (--metrics-address)"
    )
