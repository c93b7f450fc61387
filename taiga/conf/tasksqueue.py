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
