"""Errors raised by `taiga.tasksqueue`, each naming the task involved and the fix."""


class TasksQueueError(Exception):
    pass


class ArgumentNotSerializable(TasksQueueError, TypeError):
    """A task argument cannot be encoded as JSON."""


class ArgumentsTooLarge(TasksQueueError, ValueError):
    """A job's arguments exceed TASKSQUEUE_MAX_ARGS_BYTES."""


class InvalidTaskDefinition(TasksQueueError, TypeError):
    """A task's function or decorator options cannot work as a task."""


class SyncDeferInAsyncContext(TasksQueueError, RuntimeError):
    """`defer_sync()` was called from a running event loop."""


class InvalidJobOptions(TasksQueueError, ValueError):
    """A job option given to `configure()` cannot be stored or makes no sense."""
