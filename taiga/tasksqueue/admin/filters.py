"""The jobs list's filters: status, queue, task, worker, when deferred, and how far the
argument-text search reaches.

None of them scans the jobs table to build its choices, and the time filter finds its bound in
the job ids (they grow with time) in a few indexed reads instead of reading the events by time.
"""

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateWorker

from taiga.tasksqueue.admin.paging import STATUSES
from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.models import Job


class FieldFilter(admin.SimpleListFilter):
    """Jobs whose `field` has the chosen value; the choices come from each subclass's `lookups`."""

    field: str

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class TaskFilter(FieldFilter):
    """The tasks this process knows (no scan of the table for the distinct names)."""

    title = "task"
    parameter_name = "task"
    field = "task_name"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = sorted({*manager.app.tasks, *manager.django_tasks})
        return [(name, name) for name in names]


# The distinct queue names, one probe of Procrastinate's queue_name index each, where a
# DISTINCT reads every job (150 ms on 1,000,000 jobs, against about 1 ms).
_QUEUE_NAMES = """
WITH RECURSIVE queue AS (
    SELECT min(queue_name) AS name FROM procrastinate_jobs
    UNION ALL
    SELECT (SELECT min(queue_name) FROM procrastinate_jobs WHERE queue_name > queue.name)
      FROM queue WHERE queue.name IS NOT NULL
)
SELECT name FROM queue WHERE name IS NOT NULL
"""


class QueueFilter(FieldFilter):
    title = "queue"
    parameter_name = field = "queue_name"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        with connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].cursor() as cursor:
            cursor.execute(_QUEUE_NAMES)
            return [(name, name) for (name,) in cursor.fetchall()]


class StatusFilter(FieldFilter):
    title = "status"
    parameter_name = field = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(status, status) for status in STATUSES]


class WorkerFilter(admin.SimpleListFilter):
    """The registered workers (a handful of rows), for the jobs one of them runs."""

    title = "worker"
    parameter_name = "worker"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ids = ProcrastinateWorker.objects.order_by("-id").values_list("id", flat=True)
        return [(str(worker_id), f"worker {worker_id}") for worker_id in ids]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        value = self.value()
        return queryset.filter(worker_id=int(value)) if value and value.isdigit() else queryset


DEFERRED_WITHIN = {
    "1h": ("last hour", timedelta(hours=1)),
    "24h": ("last 24 hours", timedelta(days=1)),
    "7d": ("last 7 days", timedelta(days=7)),
}


class DeferredFilter(admin.SimpleListFilter):
    title = "deferred"
    parameter_name = "deferred"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in DEFERRED_WITHIN.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        window = DEFERRED_WITHIN.get(self.value() or "")
        if window is None:
            return queryset
        return queryset.filter(id__gte=first_id_deferred_since(timezone.now() - window[1]))


def first_id_deferred_since(since: datetime) -> int:
    """The id from which the jobs are those deferred at or after `since` (past the last if none).

    A bisection over ids, each step one read of Procrastinate's events by job id (indexed):
    about 20 reads for a million jobs, where filtering the events by time would read every one
    of the window. Ids grow with time, so the jobs at or above the bound are the recent ones;
    a long transaction that held its ids while others committed can blur the edge by its length.
    """
    bounds = Job.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["high"] is None:
        return 0
    low, high = int(bounds["low"]), int(bounds["high"]) + 1
    deferrals = ProcrastinateEvent.objects.filter(type="deferred").order_by("job_id")
    while low < high:
        middle = (low + high) // 2
        first = deferrals.filter(job_id__gte=middle).values_list("job_id", "at").first()
        if first is None or first[0] >= high or (first[1] is not None and first[1] >= since):
            high = middle  # no id in [middle, first) exists, so the bound is at most middle
        else:
            low = first[0] + 1
    return low


class SearchScopeFilter(admin.SimpleListFilter):
    """How far back the search reads: the newest jobs by default, or all of them.

    Text in the arguments, and the locks of jobs no longer waiting or running, have no index: the
    search reads each row it covers, about 0.6 s per million jobs. Bounded to the newest
    `TASKSQUEUE_DASHBOARD_SEARCH_WINDOW` jobs the page stays fast, and "all jobs" is one click
    for the rare search of old ones. Ids, and the locks of waiting and running jobs, are found in
    every job (`JobAdmin.get_search_results`).
    """

    title = "argument search"
    parameter_name = "search_in"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("all", "all jobs (slow on large tables)")]

    def choices(self, changelist: ChangeList) -> Any:
        default, *others = super().choices(changelist)
        window = tq_settings.TASKSQUEUE_DASHBOARD_SEARCH_WINDOW
        yield {**default, "display": f"the newest {window:,} jobs"}
        yield from others

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset  # the scope bounds the search only, not the list


def argument_search_floor(request: HttpRequest) -> int | None:
    """The id above which the argument-text search reads, or None when it reads every job."""
    if request.GET.get(SearchScopeFilter.parameter_name) == "all":
        return None
    newest = Job.objects.aggregate(newest=Max("id"))["newest"] or 0
    return int(newest) - tq_settings.TASKSQUEUE_DASHBOARD_SEARCH_WINDOW
