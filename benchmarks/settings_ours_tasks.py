"""Settings of our system's Django-task side in the benchmark (phase "django-tasks").

The project's settings, with `TASKS` naming our backend for Django's tasks framework,
`taiga.tasksqueue.backends.TasksQueueBackend`. When the project's own settings already name it
for the default alias, theirs are kept as they are (with whatever OPTIONS they ship); otherwise the
default alias is set to our backend with no queue restriction and no options. The plain-task side
of the phase and every other phase run on the project's settings unchanged.

The database settings come first: importing the project's settings imports taiga.tasksqueue, which
reads Django's database settings from this module while it is still being imported.
"""

from typing import Any

from taiga.conf.database import *  # noqa: F403

# isort: split
import taiga.conf.settings as project
from taiga.conf.settings import *  # noqa: F403

OUR_BACKEND = "taiga.tasksqueue.backends.TasksQueueBackend"

_project_tasks: dict[str, dict[str, Any]] = getattr(project, "TASKS", {})

TASKS = (
    _project_tasks
    if _project_tasks.get("default", {}).get("BACKEND") == OUR_BACKEND
    else {"default": {"BACKEND": OUR_BACKEND, "QUEUES": [], "OPTIONS": {}}}
)
