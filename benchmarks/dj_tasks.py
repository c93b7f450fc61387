"""The benchmark's tasks for Django's own tasks framework (`django.tasks`), phase "django-tasks".

The same two no-ops as `benchmarks.tasks` (`noop_sync`, `noop`), decorated with Django's `@task`
instead of `@manager.task`, so that every system of the phase runs the same functions: ours
(`taiga.tasksqueue.backends.TasksQueueBackend`, drained by `tasksqueue worker`) and
django-tasks-db (`DatabaseBackend`, drained by `db_worker`). Which backend a task goes to is the
`TASKS` setting of the process that imports this module (`benchmarks.settings_ours_tasks` or
`benchmarks.settings_tasksdb`): `@task` binds each function to the "default" backend when the
module is imported.

No import of taiga.tasksqueue here: django-tasks-db's worker imports this module by the path its
rows store, and the tasks need nothing from our app.
"""

from django.tasks import task

from benchmarks.probe import probe


@task
def noop_sync(i: int) -> None:
    """One job of a drain, run in a thread (ours) or the worker's main thread (django-tasks-db)."""
    probe.job_started()
    probe.job_ended()


@task
async def noop(i: int) -> None:
    """One job of a drain, a coroutine: on our worker's loop; django-tasks-db's runs it through
    `async_to_sync`, one event loop per job."""
    probe.job_started()
