"""Background tasks for Django on PostgreSQL, with Procrastinate as the engine.

from taiga.tasksqueue.manager import manager as tqmanager

@tqmanager.task
def send_welcome(user_id: int) -> None: ...

send_welcome.defer_sync(42)          # sync code, inside the caller's transaction
await send_welcome.defer(42)         # async code
"""

from procrastinate import JobContext, RetryStrategy

from taiga.tasksqueue.exceptions import (
    ArgumentNotSerializable,
    ArgumentsTooLarge,
    InvalidJobOptions,
    InvalidTaskDefinition,
    SyncDeferInAsyncContext,
    TasksQueueError,
)
from taiga.tasksqueue.manager import TasksQueueManager, manager
from taiga.tasksqueue.task import Task

__all__ = [
    "ArgumentNotSerializable",
    "ArgumentsTooLarge",
    "InvalidJobOptions",
    "InvalidTaskDefinition",
    "JobContext",
    "RetryStrategy",
    "SyncDeferInAsyncContext",
    "Task",
    "TasksQueueError",
    "TasksQueueManager",
    "manager",
]
