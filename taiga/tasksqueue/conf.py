"""Every setting of the tasks queue, once: its name, default, type and meaning.

Readers use the setting's own name (`tq_settings.TASKSQUEUE_STALLED_AFTER_SECONDS`), so a search for
the name finds every reader. Values are read from `django.conf.settings` on each access and never
cached, so `override_settings` takes effect at once. The system checks (`checks.py`) validate every
value against its declaration; a process that relies on a value checks it first.
"""

from collections.abc import Callable, Iterator
from typing import Any, overload

from django.conf import settings

# A bound a number must respect, and how to say so: (test, "at least 1").
Bound = tuple[Callable[[Any], bool], str]

AT_LEAST_ONE: Bound = (lambda value: value >= 1, "at least 1")
NOT_NEGATIVE: Bound = (lambda value: value >= 0, "0 or more")
POSITIVE: Bound = (lambda value: value > 0, "more than 0")


class Setting[T]:
    """One setting: read from Django's settings under the attribute's own name, or its default."""

    def __init__(
        self, default: T, kind: type | tuple[type, ...], meaning: str, bound: Bound | None = None
    ) -> None:
        self.default = default
        self.kinds = kind if isinstance(kind, tuple) else (kind,)
        self.meaning = meaning
        self.bound = bound
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> "Setting[T]": ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> "T | Setting[T]":
        if instance is None:
            return self
        return getattr(settings, self.name, self.default)

    def problem(self, value: Any) -> tuple[str, str] | None:
        """(check id, what is wrong) when `value` does not fit this setting, else None."""
        # bool is an int to Python, never to a reader of these settings.
        if not isinstance(value, self.kinds) or (
            isinstance(value, bool) and bool not in self.kinds
        ):
            return "tasksqueue.E005", f"must be {self._kind_name()}, got {value!r}"
        if self.bound is not None and not self.bound[0](value):
            return "tasksqueue.E006", f"must be {self.bound[1]}, got {value!r}"
        return None

    def _kind_name(self) -> str:
        if float in self.kinds:
            return "a number"  # whole numbers are numbers too
        names = {bool: "True or False", int: "a whole number", str: "a string"}
        return " or ".join(names.get(kind, kind.__name__) for kind in self.kinds)


COLLECTIONS = (set, frozenset, list, tuple)


class ModulePaths(Setting[Any]):
    """A collection of dotted module paths (a lone string is a slip: it is not a collection)."""

    def problem(self, value: Any) -> tuple[str, str] | None:
        if isinstance(value, COLLECTIONS) and all(isinstance(path, str) for path in value):
            return None
        return "tasksqueue.E003", f"must be a set of dotted module paths, got {value!r}"


class Names(Setting[Any]):
    """A collection of names (a lone string is a slip: it is not a collection)."""

    def problem(self, value: Any) -> tuple[str, str] | None:
        if isinstance(value, COLLECTIONS) and all(isinstance(name, str) for name in value):
            return None
        return "tasksqueue.E005", f"must be a list of names, got {value!r}"


# Number settings accept whole numbers too (60 as well as 60.0).
NUMBER = (int, float)


class TasksQueueSettings:
    # Modules that define tasks, imported by every process after the `tasks` module of each
    # installed app (`discovery.py`). A set or list of dotted paths; check tasksqueue.E003.
    TASKS_MODULES_PATHS: "ModulePaths" = ModulePaths(
        frozenset(), COLLECTIONS, "modules that define tasks, beyond apps' tasks"
    )
    # The Django database alias that holds the queue (Procrastinate's own setting).
    PROCRASTINATE_DATABASE_ALIAS: Setting[str] = Setting(
        "default", str, "the Django database alias of the queue's tables"
    )
    TASKSQUEUE_MAX_ARGS_BYTES: Setting[int] = Setting(
        1024 * 1024, int, "largest JSON encoding of one job's arguments, in bytes", AT_LEAST_ONE
    )
    # Stalled-job rescue (a built-in job, every minute): a job left in "doing" by a worker whose
    # heartbeat is older than the stalled timeout goes back to the queue, up to MAX_RESCUES times.
    TASKSQUEUE_RESCUE_ENABLED: Setting[bool] = Setting(
        True, bool, "whether the built-in rescue job puts stalled jobs back in the queue"
    )
    TASKSQUEUE_STALLED_AFTER_SECONDS: Setting[float] = Setting(
        60.0, NUMBER, "age of a worker's heartbeat at which its jobs count as stalled", POSITIVE
    )
    TASKSQUEUE_MAX_RESCUES: Setting[int] = Setting(
        3, int, "rescues of one job before it is marked failed instead", NOT_NEGATIVE
    )
    # At most a third of the stalled timeout (check tasksqueue.E004), or live workers look dead.
    TASKSQUEUE_HEARTBEAT_SECONDS: Setting[float] = Setting(
        10.0, NUMBER, "how often a worker records that it is alive"
    )
    # A worker keeps each thread's Django connections across jobs this long, checked after every
    # job (worker/task_runtime/connections.py); 0 closes them after every job, as Django does per
    # request.
    TASKSQUEUE_WORKER_CONN_MAX_AGE: Setting[float] = Setting(
        600.0, NUMBER, "seconds a worker keeps a database connection across jobs", NOT_NEGATIVE
    )
    # Where a worker's own connections go (its pool and the one that LISTENs): a libpq connection
    # URL or string, for a direct or session-mode connection when the app's database is reached
    # through a transaction-mode pooler that cannot carry LISTEN (docs/connections.md). Empty: the
    # app's database. Its tasks use Django's DATABASES either way; checks tasksqueue.E009, W001.
    TASKSQUEUE_WORKER_DATABASE_URL: Setting[str] = Setting(
        "", str, "the connection string of a worker's own connections (empty: the app's database)"
    )
    # Retention (a built-in job, every hour): finished jobs and their events are deleted this many
    # days after they finished, RETENTION_BATCH_SIZE rows per statement.
    TASKSQUEUE_RETENTION_ENABLED: Setting[bool] = Setting(
        True, bool, "whether the built-in retention job deletes old finished jobs"
    )
    TASKSQUEUE_RETENTION_SUCCEEDED_DAYS: Setting[float] = Setting(
        7.0, NUMBER, "days a succeeded job is kept", NOT_NEGATIVE
    )
    TASKSQUEUE_RETENTION_FAILED_DAYS: Setting[float] = Setting(
        30.0, NUMBER, "days a failed, cancelled or aborted job is kept", NOT_NEGATIVE
    )
    TASKSQUEUE_RETENTION_BATCH_SIZE: Setting[int] = Setting(
        1000, int, "rows the retention job deletes per statement", AT_LEAST_ONE
    )

    # The dashboard (the admin's "Tasks queue" section) shows a job's arguments with the values
    # of these names masked, at any depth (a list from the environment: "password,token").
    TASKSQUEUE_DASHBOARD_MASKED_ARGUMENTS: "Names" = Names(
        ["password", "token", "secret", "api_key"],
        (list, tuple, set, frozenset),
        "argument names whose values the dashboard masks",
    )
    # Its search for text in the arguments reads the newest this many jobs (by id) unless the
    # operator picks "all jobs": each million jobs read costs about 0.6 s (docs/dashboard.md).
    TASKSQUEUE_DASHBOARD_SEARCH_WINDOW: Setting[int] = Setting(
        100_000, int, "newest jobs the dashboard's argument-text search reads", AT_LEAST_ONE
    )

    # The state exporter (observability/state_metrics.py) on the web app: its URL path, under
    # where the project includes `taiga.tasksqueue.observability.urls`; the bearer token a
    # scraper sends (empty: only a logged-in staff user may read it); and how long one status
    # report serves the scrapes of a web process, so that scrapes cannot load the database.
    TASKSQUEUE_METRICS_PATH: Setting[str] = Setting(
        "metrics",
        str,
        "URL path of the state exporter, without a leading slash",
        (lambda value: bool(value) and not value.startswith("/"), "a path like 'metrics'"),
    )
    TASKSQUEUE_METRICS_TOKEN: Setting[str] = Setting(
        "", str, "bearer token that opens the state exporter (empty: staff login only)"
    )
    TASKSQUEUE_METRICS_CACHE_SECONDS: Setting[float] = Setting(
        5.0, NUMBER, "seconds one status report serves the state exporter's scrapes", NOT_NEGATIVE
    )

    # Tracing (observability/tracing.py): with OpenTelemetry's API installed and a tracer provider
    # set up before a process's first defer or job, a span per defer and per job run; False
    # leaves jobs untraced in a project that traces its requests.
    TASKSQUEUE_TRACING: Setting[bool] = Setting(
        True, bool, "whether defers and job runs make OpenTelemetry spans (API installed)"
    )

    @classmethod
    def declared(cls) -> Iterator[Setting[Any]]:
        for value in vars(cls).values():
            if isinstance(value, Setting):
                yield value


tq_settings = TasksQueueSettings()
