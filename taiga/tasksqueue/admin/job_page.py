"""What a job's page shows, read once per page: its arguments with secrets masked, its timeline,
each run's record (error and traceback) and, for a task of Django's `django.tasks`, its result.
"""

import json
from collections.abc import Iterable
from typing import Any

from django.tasks.exceptions import TaskResultDoesNotExist
from procrastinate.contrib.django.models import ProcrastinateEvent

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.models import Job, JobAttempt
from taiga.tasksqueue.observability.tracing import split_trace

MASK = "********"


def masked(value: Any, names: Iterable[str]) -> Any:
    """`value` with the value of every key in `names` replaced by a mask, at any depth."""
    hidden = {name.lower() for name in names}
    return _masked(value, hidden)


def _masked(value: Any, hidden: set[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: MASK if str(key).lower() in hidden else _masked(item, hidden)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked(item, hidden) for item in value]
    return value


def page_context(job: Job) -> dict[str, Any]:
    names = tq_settings.TASKSQUEUE_DASHBOARD_MASKED_ARGUMENTS
    arguments, traceparent = split_trace(job.args)
    return {
        "job": job,
        "arguments": json.dumps(masked(arguments, names), indent=2, sort_keys=True),
        "traceparent": traceparent,
        "events": list(ProcrastinateEvent.objects.filter(job_id=job.id).order_by("at", "id")),
        "runs": list(JobAttempt.objects.filter(job_id=job.id).order_by("attempt", "id")),
        "django_result": _django_result(job),
    }


def _django_result(job: Job) -> Any:
    task = manager.django_tasks.get(job.task_name)
    if task is None:
        return None
    try:
        return task.get_result(str(job.id))
    except TaskResultDoesNotExist:
        return None
