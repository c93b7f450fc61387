"""The manager: discovery order and the open/close API of the guide."""

import pytest
from django.apps import apps
from django.test import override_settings
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.tasksqueue.discovery import discover_task_modules
from taiga.tasksqueue.manager import manager as tqmanager
from tests.tasksqueue.sample_tasks import add, double


def test_the_web_process_and_the_worker_import_the_same_modules_in_the_same_order():
    assert tqmanager.discovery.modules == (
        "taiga.tasksqueue.tasks",
        "taiga.emails.tasks",
        "taiga.users.tasks",
    )
    assert tqmanager.discovery.failures == ()


def test_app_tasks_modules_come_first_then_listed_modules_sorted():
    listed = [
        "tests.tasksqueue.sample_tasks",
        "taiga.users.tasks",
        "taiga.nosuch",
        "taiga.emails.tasks",
    ]
    with override_settings(TASKS_MODULES_PATHS=listed):
        discovery = discover_task_modules(apps.get_app_configs())

    assert discovery.modules == (
        "taiga.tasksqueue.tasks",
        "taiga.emails.tasks",
        "taiga.users.tasks",
        "tests.tasksqueue.sample_tasks",
    )
    [failure] = discovery.failures
    assert (failure.module, failure.app_label) == ("taiga.nosuch", None)


def test_registered_tasks_are_listed_by_name():
    assert tqmanager.tasks["tests.tasksqueue.sample_tasks.add"] is add
    assert tqmanager.tasks["taiga.emails.tasks.send_email"].queue == "emails"


@pytest.mark.django_db(transaction=True)
async def test_open_is_awaitable_and_an_async_context_manager():
    assert await tqmanager.open() is tqmanager
    await tqmanager.close()

    async with tqmanager.open() as opened:
        job_id = await opened.tasks[double.name].defer(2)

    assert await ProcrastinateJob.objects.filter(id=job_id).aexists()


@pytest.mark.django_db
def test_open_sync_returns_the_manager_and_works_as_a_context_manager():
    with tqmanager.open_sync() as opened:
        job_id = opened.tasks[add.name].defer_sync(1)

    assert ProcrastinateJob.objects.filter(id=job_id).exists()
    tqmanager.open_sync()
    tqmanager.close_sync()
