"""Settings of the tasks queue (`taiga.tasksqueue`).

Every setting here is read lazily through `taiga.tasksqueue.conf.tq_settings`, so tests can change
them with `override_settings`.
"""

from taiga.conf.env import env

# Modules that define tasks, imported by every process (web and worker) after the `tasks` module of
# each installed app. A module missing here is the usual reason a worker fails a job with "task not
# found"; `manage.py check` reports a listed module that cannot be imported (tasksqueue.E001).
TASKS_MODULES_PATHS: set[str] = {
    "taiga.emails.tasks",
    "taiga.users.tasks",
    *env.list("TASKS_MODULES_PATHS", default=[]),
}

# Largest JSON encoding of one job's arguments, in bytes; bigger ones are refused at defer time.
TASKSQUEUE_MAX_ARGS_BYTES: int = env.int("TASKSQUEUE_MAX_ARGS_BYTES", default=1024 * 1024)

# The built-in maintenance jobs below run in the "default" queue: at least one worker must serve it.

# Stalled-job rescue (a built-in job, every minute): a job left in "doing" by a worker whose
# heartbeat is older than TASKSQUEUE_STALLED_AFTER_SECONDS is put back in the queue. A job rescued
# TASKSQUEUE_MAX_RESCUES times is marked failed instead: it probably kills its worker.
TASKSQUEUE_RESCUE_ENABLED: bool = env.bool("TASKSQUEUE_RESCUE_ENABLED", default=True)
TASKSQUEUE_STALLED_AFTER_SECONDS: float = env.float(
    "TASKSQUEUE_STALLED_AFTER_SECONDS", default=60.0
)
TASKSQUEUE_MAX_RESCUES: int = env.int("TASKSQUEUE_MAX_RESCUES", default=3)
# How often a worker records that it is alive; keep it well under TASKSQUEUE_STALLED_AFTER_SECONDS
# (check tasksqueue.E004 wants at most a third of it).
TASKSQUEUE_HEARTBEAT_SECONDS: float = env.float("TASKSQUEUE_HEARTBEAT_SECONDS", default=10.0)

# Retention (a built-in job, every hour): finished jobs and their events are deleted this many
# days after they finished, TASKSQUEUE_RETENTION_BATCH_SIZE rows per statement.
TASKSQUEUE_RETENTION_ENABLED: bool = env.bool("TASKSQUEUE_RETENTION_ENABLED", default=True)
TASKSQUEUE_RETENTION_SUCCEEDED_DAYS: float = env.float(
    "TASKSQUEUE_RETENTION_SUCCEEDED_DAYS", default=7.0
)
# failed, cancelled and aborted jobs
TASKSQUEUE_RETENTION_FAILED_DAYS: float = env.float(
    "TASKSQUEUE_RETENTION_FAILED_DAYS", default=30.0
)
TASKSQUEUE_RETENTION_BATCH_SIZE: int = env.int("TASKSQUEUE_RETENTION_BATCH_SIZE", default=1000)
