"""The systems side by side: how to set up, reset, run and check each one.

Ours, stock Procrastinate, and PgQueuer twice: on psycopg (the driver this project uses) and on
asyncpg (PgQueuer's default and its fastest), each in its own database, so that the latency phase
can run every worker at once without one taking another's jobs. And django-tasks-db ("tasksdb"),
the peer of the "django-tasks" phase only (benchmarks.dj_phase): Django's tasks framework on its
ORM backend, with its own settings module and database. And our worker polling without LISTEN
("ours-poll", `--no-listen`), in the latency phase only: what a deployment without a direct
connection pays in latency. And our worker with its events exporter on ("ours-metrics",
`--metrics-port 0`), in the drains only: what counting every job for Prometheus costs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from benchmarks import db

PY = sys.executable

# How the harness starts our worker (then: -c N [--one-shot]), as an operator would.
OURS_WORKER = [PY, "manage.py", "tasksqueue", "worker"]
# The polling worker's interval: a value a deployment would choose for interactive jobs (the
# default, 5 s, would give the latency phase a few samples in its time budget).
POLL_INTERVAL = "1"

PROCRASTINATE_DONE = "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status"
PGQ_QUEUED = "SELECT 'queued:' || status::text, count(*) FROM pgqueuer GROUP BY status"
PGQ_LOGGED = (
    "SELECT status::text, count(*) FROM pgqueuer_log "
    "WHERE status NOT IN ('queued', 'picked') GROUP BY status"
)
TASKSDB_TABLE = "django_tasks_database_dbtaskresult"
TASKSDB_DONE = f"SELECT lower(status), count(*) FROM {TASKSDB_TABLE} GROUP BY status"


@dataclass(frozen=True)
class System:
    key: str
    label: str
    database: str
    table_prefix: str
    filled_tables: tuple[str, ...]  # ANALYZEd once the queue is filled
    pgq_driver: str | None = None  # PgQueuer's systems only: its database driver
    settings: str = ""  # DJANGO_SETTINGS_MODULE of its processes, when not the project's
    client: str = ""  # the deferrer its client runs (benchmarks.client), when not `key`
    task_modules: str = "benchmarks.tasks"  # TASKS_MODULES_PATHS of its processes
    only_phase: str | None = None  # a system that takes part in this phase alone
    worker_options: tuple[str, ...] = ()  # our worker's options beyond -c and --one-shot

    @property
    def client_key(self) -> str:
        return self.client or self.key

    def in_phase(self, phase: str) -> bool:
        return self.only_phase is None or self.only_phase == phase

    @property
    def sync_defers(self) -> bool:
        """Whether its client can defer one job per sync call: asyncpg has no sync API."""
        return self.pgq_driver != "asyncpg"

    def env(self, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Environment of this system's processes, its database at `url`."""
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update(
            DATABASE_URL=url,
            BENCH_PGQ_DSN=url,
            TASKS_MODULES_PATHS=self.task_modules,
            PYTHONPATH=str(db.ROOT),
            PYTHONUNBUFFERED="1",
        )
        if self.settings:
            env["DJANGO_SETTINGS_MODULE"] = self.settings
        env.update(extra or {})
        return env

    def worker_argv(self, concurrency: int, one_shot: bool) -> list[str]:
        if self.key in ("ours", "ours-poll", "ours-metrics"):
            return [
                *OURS_WORKER,
                "-c",
                str(concurrency),
                *(["--one-shot"] if one_shot else []),
                *self.worker_options,
            ]
        if self.key == "stock":
            return [
                PY,
                "manage.py",
                "procrastinate",
                "worker",
                "--concurrency",
                str(concurrency),
                "--one-shot" if one_shot else "--wait",
            ]
        if self.key == "tasksdb":
            # One task at a time per process (several processes are its concurrency: the harness
            # starts `processes` of them); `--batch` exits once nothing is ready. No start-up delay:
            # the harness starts its processes together on purpose. --reload is off (DEBUG off).
            return [
                PY,
                "manage.py",
                "db_worker",
                "--no-startup-delay",
                *(["--batch"] if one_shot else []),
            ]
        # PgQueuer has no per-worker job count: it fetches `batch_size` jobs at once and caps the
        # jobs it holds with max_concurrent_tasks, which must be at least twice the batch.
        return [
            PY,
            "-m",
            "benchmarks.pgq_worker",
            "--driver",
            str(self.pgq_driver),
            "--batch-size",
            str(concurrency),
            "--max-concurrent-tasks",
            str(2 * concurrency),
            *(["--drain"] if one_shot else []),
        ]

    def setup(self, server: db.Server) -> None:
        """Create the database if needed and bring its schema up to date."""
        db.ensure_database(server, self.database)
        env = self.env(server.url(self.database))
        if self.pgq_driver:
            if not db.queue_tables(server, self.database, "pgqueuer"):
                install = [PY, "-m", "pgqueuer", "install"]
                db.run_quiet(install, {**env, "PGDSN": env["DATABASE_URL"]})
        elif self.key == "tasksdb":
            # django-tasks-db's table only; its app's label is django_tasks_database.
            db.run_quiet([PY, "manage.py", "migrate", "django_tasks_database", "--noinput"], env)
        elif self.key == "stock":
            # Procrastinate's schema as it comes, without this project's own migrations, and
            # Django's auth_user for the real tasks.
            for app in ("procrastinate", "auth"):
                db.run_quiet([PY, "manage.py", "migrate", app, "--noinput"], env)
        else:
            db.run_quiet([PY, "manage.py", "migrate", "--noinput"], env)

    def reset(self, server: db.Server) -> None:
        tables = db.queue_tables(server, self.database, self.table_prefix)
        db.truncate(server, self.database, tables)

    def analyze_filled(self, server: db.Server) -> None:
        db.analyze(server, self.database, list(self.filled_tables))

    def outcome(self, server: db.Server) -> dict[str, int]:
        """Jobs by final status, to check that a drain ran every job and nothing failed."""
        if self.pgq_driver:
            return {
                **db.fetch_counts(server, self.database, PGQ_LOGGED),
                **db.fetch_counts(server, self.database, PGQ_QUEUED),
            }
        if self.key == "tasksdb":
            return db.fetch_counts(server, self.database, TASKSDB_DONE)
        return db.fetch_counts(server, self.database, PROCRASTINATE_DONE)

    @staticmethod
    def succeeded(outcome: dict[str, int]) -> int:
        return outcome.get("succeeded", 0) + outcome.get("successful", 0)


SYSTEMS = {
    "ours": System(
        "ours",
        "tasksqueue worker",
        "bench_taiga",
        "procrastinate_",
        ("procrastinate_jobs", "procrastinate_events"),
    ),
    "ours-poll": System(
        "ours-poll",
        f"tasksqueue worker --no-listen (poll {POLL_INTERVAL}s)",
        "bench_taiga_poll",
        "procrastinate_",
        ("procrastinate_jobs", "procrastinate_events"),
        client="ours",
        only_phase="latency",
        worker_options=("--no-listen", "--poll-interval", POLL_INTERVAL),
    ),
    "ours-metrics": System(
        "ours-metrics",
        "tasksqueue worker --metrics-port",
        "bench_taiga_metrics",
        "procrastinate_",
        ("procrastinate_jobs", "procrastinate_events"),
        client="ours",
        only_phase="drains",
        # Any free port: two worker processes of one drain each serve their own.
        worker_options=("--metrics-port", "0"),
    ),
    "stock": System(
        "stock",
        "stock Procrastinate",
        "bench_procrastinate",
        "procrastinate_",
        ("procrastinate_jobs", "procrastinate_events"),
    ),
    "pgq": System("pgq", "PgQueuer", "bench_pgqueuer", "pgqueuer", ("pgqueuer",), "psycopg"),
    "pgq-asyncpg": System(
        "pgq-asyncpg",
        "PgQueuer (asyncpg)",
        "bench_pgqueuer_asyncpg",
        "pgqueuer",
        ("pgqueuer",),
        "asyncpg",
    ),
    "tasksdb": System(
        "tasksdb",
        "django-tasks-db",
        "bench_tasksdb",
        "django_tasks_database_",
        (TASKSDB_TABLE,),
        settings="benchmarks.settings_tasksdb",
        client="django",
        only_phase="django-tasks",
    ),
}
