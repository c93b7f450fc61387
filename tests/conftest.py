import asyncio

import pytest

from taiga.tasksqueue.worker import WorkerOptions, run_worker


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
