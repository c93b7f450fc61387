"""The tqmanager fixture: what it swaps in and restores, the reset around every test, the
tasksqueue_db marker, and tasks seeing the rows a test creates."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.testing import InMemoryConnector

from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.testing.database import NotTransactionalTest
from tests.utils.tasksqueue import TestTasksQueueManager

SEEN: dict[str, tuple[int, int]] = {}


@manager.task
def note(word: str) -> None:
    pass


@manager.task
def count_users_sync(name: str) -> None:
    SEEN["sync"] = (User.objects.filter(username=name).count(), threading.get_ident())


@manager.task
async def count_users_async(name: str) -> None:
    SEEN["async"] = (await User.objects.filter(username=name).acount(), threading.get_ident())


@pytest.fixture(autouse=True)
def _forget_seen():
    SEEN.clear()


def test_activated_swaps_the_in_memory_queue_in_and_restores_the_real_one():
    toolkit = TestTasksQueueManager()
    real_app_connector = manager.app.connector

    with toolkit.activated() as activated:
        assert activated is toolkit
        assert isinstance(manager.job_manager.connector, InMemoryConnector)
        assert manager.app.connector is manager.job_manager.connector
        note.defer_sync("inside")
        assert [job["args"] for job in toolkit.jobs.values()] == [{"word": "inside"}]

    assert toolkit.jobs == {}
    assert isinstance(manager.job_manager.connector, DjangoConnector)
    assert manager.app.connector is real_app_connector


# These two run in this order: the second sees what the first left behind, if anything.
def test_a_test_that_leaves_jobs_behind_holds_them_until_it_ends(tqmanager):
    note.defer_sync("left behind")
    assert len(tqmanager.jobs) == 1


def test_the_next_test_starts_with_an_empty_queue_and_ids_from_one(tqmanager):
    assert tqmanager.jobs == {}
    assert note.defer_sync("fresh") == 1


@pytest.mark.tasksqueue_db
def test_tasksqueue_db_sends_jobs_to_postgresql_in_a_transactional_test(request, tqmanager):
    assert request.node.get_closest_marker("django_db").kwargs == {"transaction": True}
    assert not connection.in_atomic_block

    job_id = note.defer_sync("stored")

    assert ProcrastinateJob.objects.get(id=job_id).args == {"word": "stored"}
    assert list(tqmanager.jobs) == [job_id]


@pytest.mark.django_db(transaction=True)
def test_the_database_mode_empties_the_queue_tables_when_it_ends():
    with TestTasksQueueManager(database=True).activated():
        note.defer_sync("stored")

    assert not ProcrastinateJob.objects.exists()


@pytest.mark.django_db
def test_the_database_mode_refuses_a_test_inside_a_transaction():
    with (
        pytest.raises(NotTransactionalTest, match=r"needs django_db\(transaction=True\)"),
        TestTasksQueueManager(database=True).activated(),
    ):
        pass


@pytest.mark.django_db
def test_in_a_sync_test_tasks_run_in_the_test_thread_and_see_its_rows(tqmanager):
    User.objects.create(username="ann")
    count_users_sync.defer_sync("ann")
    count_users_async.defer_sync("ann")

    tqmanager.run_pending_jobs_sync()

    # The async task runs on the worker's loop; its ORM calls come back to the test's thread.
    assert SEEN["sync"] == (1, threading.get_ident())
    assert SEEN["async"][0] == 1


@pytest.mark.django_db(transaction=True)
async def test_in_an_async_transactional_test_tasks_see_its_rows(tqmanager):
    await User.objects.acreate(username="ann")
    await count_users_sync.defer("ann")
    await count_users_async.defer("ann")

    await tqmanager.run_pending_jobs()

    assert (SEEN["sync"][0], SEEN["async"][0]) == (1, 1)


@pytest.mark.tasksqueue_db
def test_the_real_worker_sees_the_rows_of_a_tasksqueue_db_test(tqmanager):
    User.objects.create(username="ann")
    count_users_sync.defer_sync("ann")
    count_users_async.defer_sync("ann")

    tqmanager.run_pending_jobs_sync()

    assert (SEEN["sync"][0], SEEN["async"][0]) == (1, 1)
    assert [job["status"] for job in tqmanager.jobs.values()] == ["succeeded", "succeeded"]
