"""The jobs list and the job page, and the overview next to them, in the admin's "Tasks queue".

No row is edited: jobs change through the actions (`actions.py`), each behind its permission.
The list is newest first, filtered (`filters.py`) by status, queue, task, worker and age, searched
by id, lock, queueing lock or argument text (in the newest jobs unless asked for all), and never
counted past `paging.COUNT_CAP`.
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from procrastinate.exceptions import AlreadyEnqueued

from taiga.tasksqueue.admin.actions import (
    ACTIONS,
    admin_actions,
    allowed,
    offered,
    record_addition,
    run_periodic_now,
)
from taiga.tasksqueue.admin.filters import (
    DeferredFilter,
    QueueFilter,
    SearchScopeFilter,
    StatusFilter,
    TaskFilter,
    WorkerFilter,
    argument_search_floor,
)
from taiga.tasksqueue.admin.job_page import page_context
from taiga.tasksqueue.admin.overview import overview_context
from taiga.tasksqueue.admin.paging import CappedPaginator
from taiga.tasksqueue.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # generic in django-stubs only
    list_display = (
        "id",
        "task_name",
        "queue_name",
        "status",
        "priority",
        "attempts",
        "scheduled_at",
    )
    list_filter = (
        StatusFilter,
        QueueFilter,
        TaskFilter,
        WorkerFilter,
        DeferredFilter,
        SearchScopeFilter,
    )
    search_fields = ("task_name",)  # shows the search box; the search itself is get_search_results
    search_help_text = "A job id, a lock, a queueing lock, or text in the arguments."
    ordering = ("-id",)
    paginator = CappedPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = admin_actions()

    def get_actions(
        self, request: HttpRequest, action_location: Any = ActionLocation.CHANGE_LIST
    ) -> dict[str, Any]:
        return {
            name: action
            for name, action in super().get_actions(request, action_location).items()
            if name in ACTIONS and allowed(request, name)
        }

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        name = request.POST.get("action", "")
        if request.method == "POST" and name in ACTIONS and not allowed(request, name):
            raise PermissionDenied  # a form no page of this user's would have offered
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # Waiting and running jobs' locks are indexed (Procrastinate's partial indexes); other
        # locks and the arguments' text are read row by row, so only within the search's window.
        matches = Q(status="todo", queueing_lock=term) | Q(status="doing", lock=term)
        unindexed = Q(lock=term) | Q(queueing_lock=term)
        if term.isascii() and term.isdigit() and len(term) < 19:
            matches |= Q(id=int(term))
        else:
            unindexed |= Q(args__icontains=term)  # the JSON text of the arguments
        floor = argument_search_floor(request)
        matches |= unindexed if floor is None else unindexed & Q(id__gt=floor)
        return queryset.filter(matches), False

    def get_urls(self) -> list[URLPattern]:
        overview = path(
            "overview/",
            self.admin_site.admin_view(self.overview_view),
            name="tasksqueue_overview",
        )
        run_periodic = path(
            "overview/run-periodic/",
            self.admin_site.admin_view(self.run_periodic_view),
            name="tasksqueue_run_periodic",
        )
        return [overview, run_periodic, *super().get_urls()]

    def run_periodic_view(self, request: HttpRequest) -> HttpResponse:
        """Defer a periodic task's job now, as its schedule would (POST task, periodic_id)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("tasksqueue.run_job_now"):
            raise PermissionDenied
        task, periodic_id = request.POST.get("task", ""), request.POST.get("periodic_id", "")
        try:
            job_id = run_periodic_now(task, periodic_id)
        except AlreadyEnqueued:
            self.message_user(
                request, f"{task}: a job of it is already waiting (its queueing lock).", "warning"
            )
            return HttpResponseRedirect(reverse("admin:tasksqueue_overview"))
        if job_id is None:
            raise Http404(f"No periodic schedule {task!r} {periodic_id!r}.")
        record_addition(request, job_id, f"Run now, periodic {task} (dashboard)")
        self.message_user(request, f"{task}: job {job_id} deferred now.")
        return HttpResponseRedirect(reverse("admin:tasksqueue_overview"))

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Tasks queue overview",
            "opts": self.opts,
            "can_run_now": request.user.has_perm("tasksqueue.run_job_now"),
            **overview_context(),
        }
        return TemplateResponse(request, "admin/tasksqueue/overview.html", context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404(f"No job with id {object_id!r}.")
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Job {job.id}: {job.task_name}",
            "opts": self.opts,
            "actions_offered": offered(request, job),
            "checkbox_name": ACTION_CHECKBOX_NAME,
            **page_context(job),
        }
        return TemplateResponse(request, "admin/tasksqueue/job_page.html", context)
