"""A PgBouncer of the test's own, on 127.0.0.1 and a free port, in front of the test server.

Debian's `pgbouncer` (1.18: no prepared statements in transaction mode), run from a configuration
in a temporary folder, never its system service. It refuses to run as root, so as root it drops to
`nobody`, or to the embedded server's own user when that is the server (`-u`). A test that needs
it skips in one line when it is not installed.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from tests.utils.processes import TIMEOUT, closed_port
from tests.utils.waiting import wait_until

NOT_INSTALLED = "pgbouncer is not installed (Debian's pgbouncer package; `make setup` installs it)"


def binary() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")


def _answers(port: int, dbname: str) -> bool:
    try:
        psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname=dbname, connect_timeout=2
        ).close()
    except psycopg.OperationalError:
        return False
    return True


def url_through(port: int) -> str:
    """The test database's URL through the PgBouncer on `port` (whatever the server's own URL is
    like: the embedded server's names a unix socket)."""
    settings = connection.settings_dict
    user, database = quote(settings["USER"], safe=""), quote(settings["NAME"], safe="")
    return f"postgres://{user}@127.0.0.1:{port}/{database}"


def _unprivileged_user(server_host: str) -> str:
    """Who PgBouncer runs as under root: the owner of a unix-socket server's folder (the embedded
    server's lets only its owner through), else `nobody`."""
    if server_host.startswith("/"):
        return pwd.getpwuid(os.stat(server_host).st_uid).pw_name
    return "nobody"


@contextlib.contextmanager
def pgbouncer(pool_mode: str = "transaction", pool_size: int = 1) -> Iterator[int]:
    """Run PgBouncer in `pool_mode` with `pool_size` server connections per database and user (one
    makes every client share a server session: what a client leaves on it, the next one meets);
    yields its port."""
    program = binary()
    if program is None:
        pytest.skip(NOT_INSTALLED)
    settings = connection.settings_dict
    server_host, server_port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    port = closed_port()
    with tempfile.TemporaryDirectory(prefix="tasksqueue-pgbouncer-") as folder:
        root = Path(folder)
        (root / "users.txt").write_text('"postgres" ""\n')
        (root / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server_host} port={server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {root / 'users.txt'}\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 100\n"
        )
        root.chmod(0o755)  # readable by the user it runs as
        log = (root / "pgbouncer.log").open("w")
        user = ["-u", _unprivileged_user(str(server_host))] if os.geteuid() == 0 else []
        process = subprocess.Popen(
            [program, *user, str(root / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(
                lambda: process.poll() is not None or _answers(port, settings["NAME"]),
                "PgBouncer to answer",
                interval=0.05,
                details=(root / "pgbouncer.log").read_text,
            )
            assert process.poll() is None, (root / "pgbouncer.log").read_text()
            yield port
        finally:
            process.terminate()
            process.wait(TIMEOUT)
            log.close()
