"""Where the tasks queue guide says the test manager is; it lives in `taiga.tasksqueue.testing`."""

from taiga.tasksqueue.testing import JobRow, TestTasksQueueManager

__all__ = ["JobRow", "TestTasksQueueManager"]
