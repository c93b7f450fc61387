"""What a worker checks and sets before it starts: its log levels, the task modules, the settings,
the database and its schema. Each refusal is one line naming the cause and the fix."""

import logging

from django.db import connections

from taiga.tasksqueue.checks import check_settings
from taiga.tasksqueue.conf import TasksQueueSettings
from taiga.tasksqueue.exceptions import TasksQueueError
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.ops.schema import require_schema
from taiga.tasksqueue.text import first_line

LOG_LEVELS = ("debug", "info", "warning", "error")


class WorkerCannotStart(TasksQueueError):
    """Something the worker needs is missing or wrong."""


def prepare_to_run(log_level: str | None) -> None:
    if log_level:
        _set_log_level(log_level)
    if log_level != "debug":
        # psycopg's pool logs each dead connection it drops, next to the worker's own line about
        # the lost connection; one line per failure is enough.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        _one_line_per_procrastinate_record()
    if manager.discovery.failures:
        # Its jobs would fail with "task not found" one by one; refuse to start instead.
        failure = manager.discovery.failures[0]
        raise WorkerCannotStart(
            f"Cannot import the task module {failure.module!r} ({failure.error}); fix it or "
            f"remove it from {TasksQueueSettings.TASKS_MODULES_PATHS.name}"
        )
    for error in check_settings():
        # A heartbeat slower than the stalled timeout would get this worker's jobs run twice; a
        # retention batch of 0 would never end. A warning (W001) is the start's LISTEN probe's to
        # confirm (`run.py`).
        if error.is_serious():
            raise WorkerCannotStart(f"{error.msg} {error.hint}")
    require_schema()
    # The worker has its own pool; Django's connection would sit idle for its whole life.
    connections.close_all()


class OneLine(logging.Filter):
    """Procrastinate's records as one line each, the innermost cause at the end; the traceback is
    for debug level. A database outage otherwise prints a traceback per side task and retry."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("procrastinate"):
            return True
        text = " ".join(line.strip() for line in record.getMessage().splitlines() if line.strip())
        if record.exc_info and record.exc_info[1] is not None:
            cause = record.exc_info[1]
            while cause.__cause__ is not None:
                cause = cause.__cause__
            text += f" ({type(cause).__name__}: {first_line(cause)})"
        record.msg, record.args = text, ()
        record.exc_info = record.exc_text = None
        return True


def _one_line_per_procrastinate_record() -> None:
    # A filter on a logger does not reach its children's records; one on the handlers does.
    handlers = logging.getLogger().handlers + logging.getLogger("procrastinate").handlers
    for handler in handlers:
        if not any(isinstance(f, OneLine) for f in handler.filters):
            handler.addFilter(OneLine())


def _set_log_level(name: str) -> None:
    level = logging.getLevelNamesMapping()[name.upper()]
    logging.getLogger("taiga.tasksqueue").setLevel(level)
    # Procrastinate logs every job too, in its own words: below debug, the lines of
    # taiga.tasksqueue.worker say the same once, and only its warnings and errors are kept.
    logging.getLogger("procrastinate").setLevel(
        level if level <= logging.DEBUG else max(level, logging.WARNING)
    )
