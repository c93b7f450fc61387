"""The dashboard's actions on jobs: one job (from its page), a selection, or every job the list's
filter matches (the admin's "select all"). Each needs its own permission; a confirmation page
says how many jobs it will touch; each changed job gets an entry in the admin's history.
"""

import time
from typing import Any, cast

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.models import Job
from taiga.tasksqueue.ops.bulk_actions import ABORT, CANCEL, DELETE, RETRY, RUN_NOW, BulkAction

# The admin action's name: the bulk action and the permission it needs (app "tasksqueue").
ACTIONS: dict[str, tuple[BulkAction, str]] = {
    "retry_jobs": (RETRY, "retry_job"),
    "cancel_jobs": (CANCEL, "cancel_job"),
    "abort_jobs": (ABORT, "abort_job"),
    "run_jobs_now": (RUN_NOW, "run_job_now"),
    "delete_jobs": (DELETE, "delete_job"),
}


def allowed(request: HttpRequest, name: str) -> bool:
    return request.user.has_perm(f"tasksqueue.{ACTIONS[name][1]}")


def _ids_query(queryset: QuerySet[Job]) -> tuple[str, tuple[Any, ...]]:
    query, params = queryset.order_by().values("id").query.sql_with_params()
    return query, tuple(params)


def perform(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Job], name: str) -> Any:
    """Ask for confirmation, or (confirmed) act and say how many jobs changed."""
    bulk, _ = ACTIONS[name]
    ids = _ids_query(queryset)
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": f"{bulk.label}: are you sure?",
            "opts": modeladmin.opts,
            "bulk": bulk,
            "action": name,
            "selected": queryset.count(),
            "matching": bulk.matching(ids),
            "select_across": request.POST.get("select_across", "0"),
            "index": request.POST.get("index", "0"),
            "selected_ids": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/tasksqueue/confirm_action.html", context)
    with transaction.atomic(using=queryset.db):
        changed = bulk.run(ids)
        _record(request, changed, bulk)
    modeladmin.message_user(request, f"{bulk.label}: {len(changed)} job(s) changed.")
    return None


def _record(request: HttpRequest, job_ids: list[int], bulk: BulkAction) -> None:
    """One history entry per changed job, with the user (written in one INSERT)."""
    content_type = ContentType.objects.get_for_model(Job, for_concrete_model=False)
    flag = DELETION if bulk is DELETE else CHANGE
    LogEntry.objects.bulk_create(
        LogEntry(
            user_id=cast(int, request.user.pk),  # staff: a saved user
            content_type_id=content_type.id,
            object_id=str(job_id),
            object_repr=f"job {job_id}",
            action_flag=flag,
            change_message=f"{bulk.label} (dashboard)",
        )
        for job_id in job_ids
    )


def admin_actions() -> list[Any]:
    """The admin actions, one function each (the admin lists them by name and description)."""

    def make(name: str, bulk: BulkAction) -> Any:
        def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Job]) -> Any:
            return perform(modeladmin, request, queryset, name)

        action.__name__ = name
        action.short_description = f"{bulk.label} ({bulk.applies_to} among the selected)"  # type: ignore[attr-defined]
        return action

    return [make(name, bulk) for name, (bulk, _) in ACTIONS.items()]


# The actions a job's page offers for its status (the others would change nothing).
BY_STATUS = {
    "failed": ("retry_jobs", "delete_jobs"),
    "todo": ("cancel_jobs", "run_jobs_now"),
    "doing": ("abort_jobs",),
    "succeeded": ("delete_jobs",),
    "cancelled": ("delete_jobs",),
    "aborted": ("delete_jobs",),
}


def offered(request: HttpRequest, job: Job) -> list[tuple[str, str]]:
    """(action name, label) of the actions the user may run on this job now."""
    names = BY_STATUS.get(job.status, ())
    return [(name, ACTIONS[name][0].label) for name in names if allowed(request, name)]


def run_periodic_now(task_name: str, periodic_id: str) -> int | None:
    """Defer the job of a periodic schedule now, with its options and the current timestamp;
    None if there is no such schedule."""
    periodic = manager.app.periodic_registry.periodic_tasks.get((task_name, periodic_id))
    if periodic is None:
        return None
    deferrer = periodic.task.configure(**periodic.configure_kwargs)
    return int(deferrer.defer(timestamp=int(time.time())))


def record_addition(request: HttpRequest, job_id: int, message: str) -> None:
    content_type = ContentType.objects.get_for_model(Job, for_concrete_model=False)
    LogEntry.objects.create(
        user_id=cast(int, request.user.pk),
        content_type_id=content_type.id,
        object_id=str(job_id),
        object_repr=f"job {job_id}",
        action_flag=ADDITION,
        change_message=message,
    )
