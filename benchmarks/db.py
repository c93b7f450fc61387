"""The PostgreSQL side of the harness: which server, one database per system, resets, backend CPU.

The server is the one DATABASE_URL names (only its host, port and user are used), or the project's
embedded PostgreSQL when DATABASE_URL is unset. Each system gets its own database on it, created
on first use and never dropped: `bench_taiga` (ours), `bench_procrastinate` (stock),
`bench_pgqueuer` and `bench_pgqueuer_asyncpg` (each name followed by `--db-suffix`, if given, so
that two runs at once on one server keep apart). Between runs the queue tables are emptied with
TRUNCATE; an empty queue is never ANALYZEd (an analysed empty procrastinate_jobs makes later
inserts slow); a filled one is, so all systems drain from tables with up-to-date statistics.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psutil
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    host: str  # a host name, or a unix socket directory
    port: int
    user: str
    password: str
    embedded: bool

    @property
    def on_this_machine(self) -> bool:
        return self.host.startswith("/") or self.host in ("127.0.0.1", "localhost", "::1")

    def url(self, database: str, port: int | None = None) -> str:
        """A URL for DATABASE_URL (Django) and psycopg alike; `port` points it at the proxy."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if port is not None:  # through the counting proxy, always TCP on the loopback
            return (
                f"postgres://{auth}@127.0.0.1:{port}/{database}?sslmode=disable&gssencmode=disable"
            )
        if self.host.startswith("/"):
            return f"postgres://{auth}@/{database}?host={quote(self.host)}&port={self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgres://{auth}@{host}:{self.port}/{database}"

    def connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=database,
            autocommit=True,
        )


def find_server() -> Server:
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        return Server(
            host=unquote(parts.hostname or "127.0.0.1"),
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            embedded=False,
        )
    from taiga.base.db import server as embedded

    data_dir = Path(os.environ.get("EMBEDDED_DB_DIR", ROOT / ".data" / "postgres"))
    address = embedded.ensure_running(data_dir, "postgres")
    return Server(host=address.host, port=address.port, user="postgres", password="", embedded=True)


def server_version(server: Server) -> str:
    with server.connect("postgres") as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def ensure_database(server: Server, name: str) -> bool:
    """Create `name` if it does not exist; True when it was created."""
    with server.connect("postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def run_quiet(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"{' '.join(argv)} failed with exit code {done.returncode}")


def queue_tables(server: Server, database: str, prefix: str) -> list[str]:
    with server.connect(database) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE %s",
            [prefix + "%"],
        ).fetchall()
    return sorted(str(row[0]) for row in rows)


def truncate(server: Server, database: str, tables: list[str]) -> None:
    with server.connect(database) as conn:
        names = sql.SQL(", ").join(sql.Identifier(table) for table in tables)
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))


def analyze(server: Server, database: str, tables: list[str]) -> None:
    with server.connect(database) as conn:
        for table in tables:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


def fetch_counts(server: Server, database: str, query: str) -> dict[str, int]:
    with server.connect(database) as conn:
        return {str(key): int(str(value)) for key, value in conn.execute(query).fetchall()}


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving one database, read with psutil.

    Only client backends count (not autovacuum). A backend's CPU is remembered each time it is
    sampled, so a connection that closes between two samples still counts up to its last one.
    """

    def __init__(self, server: Server, database: str) -> None:
        self.database = database
        self.enabled = server.on_this_machine
        self._conn = server.connect("postgres") if self.enabled else None
        self._seen: dict[int, float] = {}
        self._procs: dict[int, psutil.Process] = {}
        if self._conn is not None:
            row = self._conn.execute("SELECT pg_backend_pid()").fetchone()
            try:
                name = psutil.Process(int(str(row[0]))).name() if row else ""
                self.enabled = "postgres" in name
            except psutil.Error:
                self.enabled = False

    def sample(self) -> dict[int, float]:
        if not self.enabled or self._conn is None:
            return {}
        rows = self._conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend'",
            [self.database],
        ).fetchall()
        for (pid_value,) in rows:
            pid = int(str(pid_value))
            try:
                process = self._procs.get(pid) or psutil.Process(pid)
                self._procs[pid] = process
                times = process.cpu_times()
                self._seen[pid] = times.user + times.system
            except psutil.Error:
                self._procs.pop(pid, None)
        return dict(self._seen)

    @staticmethod
    def delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(value - before.get(pid, 0.0) for pid, value in after.items())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
