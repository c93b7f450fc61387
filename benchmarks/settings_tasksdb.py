"""Settings of the benchmark's django-tasks-db system (DJANGO_SETTINGS_MODULE of its processes).

The project's settings, plus django-tasks-db's app and its `DatabaseBackend` as the default tasks
backend, configured as its README shows. Used only by that system's processes (its migrations, its
client's `Task.enqueue()`, its `manage.py db_worker`); its database is its own (`bench_tasksdb`),
so its rows and ours never meet.

One change from the project's database settings: `CONN_MAX_AGE`. The project keeps Django's default
(0), and `db_worker` calls `close_old_connections()` around every task, as a request would: with 0
it would reconnect to PostgreSQL for each job. Django's documented persistent connections are how a
deployment runs a long-lived ORM worker, so the peer gets them (600 s, as our worker keeps its
tasks' connections, TASKSQUEUE_WORKER_CONN_MAX_AGE); BENCH_TASKSDB_CONN_MAX_AGE=0 measures it
without.

DATABASES is set before the project's settings are imported: importing them imports
taiga.tasksqueue, which reads Django's database settings from this module while it is still being
imported (Django's connection handler keeps what it read then).
"""

import os

from taiga.conf.database import DATABASES as PROJECT_DATABASES

_conn_max_age = int(os.environ.get("BENCH_TASKSDB_CONN_MAX_AGE", "600"))
_databases = {
    alias: {**database, "CONN_MAX_AGE": _conn_max_age}
    for alias, database in PROJECT_DATABASES.items()
}
DATABASES = _databases

# isort: split
from taiga.conf.settings import *  # noqa: E402, F403
from taiga.conf.settings import INSTALLED_APPS as PROJECT_APPS  # noqa: E402

DATABASES = _databases  # again: the project's settings, star-imported, set their own

INSTALLED_APPS = [*PROJECT_APPS, "django_tasks_db"]

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
