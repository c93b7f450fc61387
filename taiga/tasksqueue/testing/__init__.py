"""Test toolkit of the tasks queue: `TestTasksQueueManager` and, in `pytest_plugin`, the `tqmanager`
fixture and the `tasksqueue_db` marker. Only tests import this package (see docs/testing.md)."""

from taiga.tasksqueue.testing.rows import JobRow
from taiga.tasksqueue.testing.toolkit import TestTasksQueueManager

__all__ = ["JobRow", "TestTasksQueueManager"]
