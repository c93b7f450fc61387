import asyncio

import pytest
from asgiref.sync import SyncToAsync
from django.db import connection, connections

from taiga.tasksqueue.testing.database import EMPTY_TABLES
from taiga.tasksqueue.worker.options import WorkerOptions
from taiga.tasksqueue.worker.run import run_worker

pytest_plugins = ["taiga.tasksqueue.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def _clean_queue_after_transactional_tests(request, django_db_blocker):
    """Procrastinate's tables are unmanaged models, so Django's flush after a transactional test
    leaves their rows behind; they are emptied here, as the toolkit's real-database mode does."""
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    if not transactional:
        return
    with django_db_blocker.unblock():
        # Async ORM calls run on asgiref's one sync thread; its connection must be closed too,
        # or the test database cannot be dropped at the end of the session.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        with connection.cursor() as cursor:
            cursor.execute(EMPTY_TABLES)


@pytest.fixture
def run_worker_once():
    """Run a real worker on the test database until no job is ready, then return.

    Needs `django_db(transaction=True)`: the worker uses its own connections, which do not see
    rows of an uncommitted test transaction.
    """

    def run(**options):
        asyncio.run(
            run_worker(WorkerOptions(one_shot=True, install_signal_handlers=False, **options))
        )

    return run
