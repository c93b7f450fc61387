"""Settings of the tasks queue (`taiga.tasksqueue`).

Each setting, its default and its meaning are declared once, in `taiga/tasksqueue/conf.py`; here
the project lists its task modules and lets the environment set any other setting by its name
(`TASKSQUEUE_STALLED_AFTER_SECONDS=120`). `manage.py check` validates every value.
"""

from typing import Any

from taiga.conf.env import env
from taiga.tasksqueue.conf import TasksQueueSettings

# Modules that define tasks, imported by every process (web and worker) after the `tasks` module of
# each installed app. A module missing here is the usual reason a worker fails a job with "task not
# found"; `manage.py check` reports a listed module that cannot be imported (tasksqueue.E001).
TASKS_MODULES_PATHS: set[str] = {
    "taiga.emails.tasks",
    "taiga.users.tasks",
    *(path.strip() for path in env.list("TASKS_MODULES_PATHS", default=[]) if path.strip()),
}


def _from_environment() -> dict[str, Any]:
    values = {}
    for setting in TasksQueueSettings.declared():
        if setting.name.startswith("TASKSQUEUE_") and setting.name in env:
            cast = float if float in setting.kinds else setting.kinds[0]
            value = env.parse_value(env.str(setting.name), cast)
            if isinstance(value, list):  # "password, token": names without their spaces
                value = [item.strip() for item in value if item.strip()]
            values[setting.name] = value
    return values


globals().update(_from_environment())

# Django's own task framework (`django.tasks`) on the same queue and workers: functions decorated
# with `django.tasks.task` are stored as jobs and run by `tasksqueue worker` (docs/django-tasks.md).
# An empty QUEUES accepts any queue name.
TASKS = {
    "default": {
        "BACKEND": "taiga.tasksqueue.backends.TasksQueueBackend",
        "QUEUES": [],
        "OPTIONS": {},
    }
}
