"""Every private name, signature, SQL statement and SQL function of Procrastinate that the worker
and the defer path rely on, in one place, so that an upgrade of Procrastinate breaks here, saying
what to revisit, rather than silently somewhere else. The pin in pyproject.toml (3.10) is the
version these were read from."""

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from procrastinate import (
    PsycopgConnector,
    job_context,
    jobs,
    manager,
    middleware,
    sql,
    utils,
    worker,
)
from procrastinate.contrib.django import connector_params, db_cleanup

from taiga.tasksqueue.manager import manager as tqmanager

LEAN = "taiga/tasksqueue/worker/jobs/lean_worker.py"
TASK_CALL = "taiga/tasksqueue/worker/jobs/task_call.py"
STATEMENTS = "taiga/tasksqueue/worker/jobs/queries.py"


INSERT_TRIGGERS = (
    "procrastinate_jobs_notify_queue_job_inserted",
    "procrastinate_trigger_status_events_insert",
)
INSERT_TRIGGER_MIGRATIONS = {
    "00.00.00_01_initial.sql",
    "00.07.01_01_fix_trigger_status_events_insert.sql",
    "03.00.00_01_pre_cancel_notification.sql",
    "03.00.00_50_post_cancel_notification.sql",
}


def _migrations_naming(names: tuple[str, ...]) -> set[str]:
    folder = Path(sql.__file__).parent / "migrations"
    return {
        path.name
        for path in folder.glob("*.sql")
        if any(name in path.read_text() for name in names)
    }


def parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


def worker_instance() -> worker.Worker:
    return worker.Worker(app=tqmanager.app)


# (what is relied on, how to see it is still there, what to revisit if it is not)
CONTRACT: list[tuple[str, Callable[[], bool], str]] = [
    (
        "Worker._fetch_and_process_jobs(self), awaited by Worker._run_loop",
        lambda: (
            parameters(worker.Worker._fetch_and_process_jobs) == ["self"]
            and "_fetch_and_process_jobs()" in inspect.getsource(worker.Worker._run_loop)
        ),
        f"LeanWorker._fetch_and_process_jobs in {LEAN} replaces it",
    ),
    (
        "Worker._process_job(self, context)",
        lambda: parameters(worker.Worker._process_job) == ["self", "context"],
        f"LeanWorker._process_job in {LEAN} replaces it",
    ),
    (
        "Worker._shutdown(self, side_tasks), awaited by Worker._run_loop, unregisters the worker",
        lambda: (
            parameters(worker.Worker._shutdown) == ["self", "side_tasks"]
            and "_shutdown(" in inspect.getsource(worker.Worker._run_loop)
            and "unregister_worker" in inspect.getsource(worker.Worker._shutdown)
        ),
        f"LeanWorker._shutdown in {LEAN} puts back lost jobs before it",
    ),
    (
        "Worker._resolve_task_middlewares(self, task, task_is_async)",
        lambda: (
            parameters(worker.Worker._resolve_task_middlewares) == ["self", "task", "task_is_async"]
        ),
        f"TaskCalls._call_of in {TASK_CALL} calls it",
    ),
    (
        "Worker instance attributes _running_jobs (dict), _job_ids_to_abort (dict), "
        "_stop_event and _new_job_event (asyncio.Event), _loop, worker_id, additional_context, "
        "worker_middleware, queues, concurrency, delete_jobs, worker_name",
        lambda: (
            all(
                hasattr(worker_instance(), name)
                for name in (
                    "_running_jobs",
                    "_job_ids_to_abort",
                    "_stop_event",
                    "_new_job_event",
                    "_loop",
                    "worker_id",
                    "additional_context",
                    "worker_middleware",
                    "queues",
                    "concurrency",
                    "delete_jobs",
                    "worker_name",
                )
            )
            and isinstance(worker_instance()._running_jobs, dict)
        ),
        f"LeanWorker in {LEAN} reads and writes them",
    ),
    (
        "Worker._abort_job marks a shutdown's aborts with AbortReason.SHUTDOWN",
        lambda: "AbortReason.SHUTDOWN" in inspect.getsource(worker.Worker._abort_running_jobs),
        "taiga/tasksqueue/worker/jobs/outcome.py tells a shutdown from a user's abort by it",
    ),
    (
        "JobContext(app, worker_name, worker_queues, additional_context, job, abort_reason, "
        "start_timestamp)",
        lambda: (
            {
                "app",
                "worker_name",
                "worker_queues",
                "additional_context",
                "job",
                "abort_reason",
                "start_timestamp",
            }
            <= set(parameters(job_context.JobContext))
        ),
        f"LeanWorker._start in {LEAN} builds one per job",
    ),
    (
        "middleware.compose(middlewares, run_task, context, worker) and utils.sync_to_async",
        lambda: (
            parameters(middleware.compose) == ["middlewares", "run_task", "context", "worker"]
            and callable(utils.sync_to_async)
        ),
        f"LeanWorker._run in {LEAN}",
    ),
    (
        "JobManager.fetch_job(queues, worker_id), finish_job_by_id_async(job_id, status, "
        "delete_job), retry_job(job, retry_at, priority, queue, lock), "
        "retry_job_by_id_async(job_id, retry_at), batch_defer_jobs(jobs)",
        lambda: (
            parameters(manager.JobManager.fetch_job) == ["self", "queues", "worker_id"]
            and parameters(manager.JobManager.finish_job_by_id_async)[:4]
            == ["self", "job_id", "status", "delete_job"]
            and {"job", "retry_at", "priority", "queue", "lock"}
            <= set(parameters(manager.JobManager.retry_job))
            and parameters(manager.JobManager.retry_job_by_id_async)[:3]
            == ["self", "job_id", "retry_at"]
            and parameters(manager.JobManager.batch_defer_jobs)[:2] == ["self", "jobs"]
        ),
        f"{STATEMENTS}, {LEAN}, taiga/tasksqueue/worker/supervisor.py and "
        "taiga/tasksqueue/defer/insert.py call them",
    ),
    (
        "PsycopgConnector._loop_notify, called by listen_notify once a connection's LISTENs are "
        "done, returning (not raising) when that connection dies",
        lambda: (
            "self._loop_notify(" in inspect.getsource(PsycopgConnector.listen_notify)
            and "break" in inspect.getsource(PsycopgConnector._loop_notify)
        ),
        "ReconnectingConnector._loop_notify in taiga/tasksqueue/worker/queue_db/reconnect.py: "
        "whether the listener listens (/health/ready) and the connection counts (metrics)",
    ),
    (
        "manager.QUEUEING_LOCK_CONSTRAINT names the queueing-lock index",
        lambda: manager.QUEUEING_LOCK_CONSTRAINT == "procrastinate_jobs_queueing_lock_idx_v1",
        "taiga/tasksqueue/defer/insert.py turns its violation into AlreadyEnqueued",
    ),
    (
        "sql.queries['finish_job'] and ['retry_job'] with their parameters",
        lambda: (
            all(
                f"%({name})s" in sql.queries["finish_job"]
                for name in ("job_id", "status", "delete_job")
            )
            and all(
                f"%({name})s" in sql.queries["retry_job"]
                for name in ("job_id", "retry_at", "new_priority", "new_queue_name", "new_lock")
            )
        ),
        "taiga/tasksqueue/ops/rescue.py runs them inside its own transaction",
    ),
    (
        "jobs.Status values and DeleteJobCondition",
        lambda: (
            {status.value for status in jobs.Status}
            >= {"todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted"}
            and {c.value for c in jobs.DeleteJobCondition} == {"never", "successful", "always"}
        ),
        f"{LEAN} and the status report",
    ),
    (
        "procrastinate.contrib.django: db_cleanup's two middleware, and connector_params",
        lambda: (
            callable(db_cleanup.close_db_connections)
            and callable(db_cleanup.close_db_connections_async)
            and callable(connector_params)
        ),
        "taiga/tasksqueue/worker/task_runtime/connections.py takes the first two's place; "
        "connection_params.py calls the last",
    ),
    (
        "App.replace_connector, App.periodic_registry.periodic_tasks, App.worker_defaults",
        lambda: (
            callable(tqmanager.app.replace_connector)
            and isinstance(tqmanager.app.periodic_registry.periodic_tasks, dict)
            and isinstance(tqmanager.app.worker_defaults, dict)
        ),
        "taiga/tasksqueue/worker/run.py and supervisor.py",
    ),
    (
        "the jobs' two per-row INSERT triggers, last made by migration 03.00.00_50, and a worker "
        "that reads only the type of a job_inserted notification",
        lambda: (
            _migrations_naming(INSERT_TRIGGERS) == INSERT_TRIGGER_MIGRATIONS
            and 'notification["type"] == "job_inserted"'
            in inspect.getsource(worker.Worker._handle_notification)
        ),
        "taiga/tasksqueue/migrations/0002_batch_inserts_skip_row_triggers.py, which recreates "
        "them, and the batch INSERT in taiga/tasksqueue/defer/insert.py, which does their work",
    ),
]


@pytest.mark.parametrize(
    ("relied_on", "holds", "revisit"), CONTRACT, ids=[entry[0][:60] for entry in CONTRACT]
)
def test_procrastinate_still_offers(relied_on, holds, revisit):
    assert holds(), f"Procrastinate no longer offers {relied_on}: revisit {revisit}"


SQL_FUNCTIONS = {
    "procrastinate_finish_job_v1": (
        "job_id bigint, end_status procrastinate_job_status, delete_job boolean"
    ),
    "procrastinate_register_worker_v1": "",
}

COLUMNS = {
    "procrastinate_jobs": {
        "id",
        "queue_name",
        "task_name",
        "priority",
        "lock",
        "queueing_lock",
        "args",
        "status",
        "scheduled_at",
        "attempts",
        "abort_requested",
        "worker_id",
    },
    "procrastinate_workers": {"id", "last_heartbeat"},
    "procrastinate_events": {"job_id", "type", "at"},
}


@pytest.mark.django_db
def test_the_schema_still_has_the_functions_and_columns_our_statements_use():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc"
            " WHERE proname = ANY(%s)",
            [list(SQL_FUNCTIONS)],
        )
        functions = dict(cursor.fetchall())
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_name = ANY(%s)",
            [list(COLUMNS)],
        )
        columns: dict[str, set[str]] = {}
        for table, column in cursor.fetchall():
            columns.setdefault(table, set()).add(column)

    for name, arguments in SQL_FUNCTIONS.items():
        assert functions.get(name) == arguments, (
            f"SQL function {name}({arguments}) is gone or changed: revisit {STATEMENTS} "
            "(FINISH_JOBS calls it) and the worker's registration"
        )
    for table, needed in COLUMNS.items():
        assert needed <= columns.get(table, set()), (
            f"{table} lacks {sorted(needed - columns.get(table, set()))}: revisit {STATEMENTS}, "
            "taiga/tasksqueue/defer/insert.py and taiga/tasksqueue/ops/"
        )
