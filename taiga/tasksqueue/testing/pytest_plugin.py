"""pytest plugin of the tasks queue: the `tqmanager` fixture and the `tasksqueue_db` marker.

Enable it in the project's root conftest.py:

    pytest_plugins = ["taiga.tasksqueue.testing.pytest_plugin"]
"""

from collections.abc import Iterator

import pytest

from taiga.tasksqueue.testing.toolkit import TestTasksQueueManager

DATABASE_MARKER = "tasksqueue_db"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{DATABASE_MARKER}: the tqmanager fixture sends jobs to PostgreSQL and runs them with a "
        "real one-shot worker; implies django_db(transaction=True).",
    )


# tryfirst: the django_db mark must be in place before pytest-django orders tests by their marks.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker(DATABASE_MARKER) and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture
def tqmanager(request: pytest.FixtureRequest) -> Iterator[TestTasksQueueManager]:
    """The jobs this test defers, in memory (or in PostgreSQL under `tasksqueue_db`)."""
    database = request.node.get_closest_marker(DATABASE_MARKER) is not None
    with TestTasksQueueManager(database=database).activated() as toolkit:
        yield toolkit
