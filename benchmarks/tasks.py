"""The benchmark's tasks for `tasksqueue worker` and stock Procrastinate.

Both run the very same functions: `@manager.task` registers them on Procrastinate's app, so the
stock worker (`manage.py procrastinate worker`) finds them too. Worker processes of the benchmark
import this module through the TASKS_MODULES_PATHS environment variable; so do the floor
(`benchmarks.floor`, which calls them directly) and the clients.

`noop` and `ping` measure the queue alone. The "real" tasks are what an application's jobs look
like at their cheapest: a sync function, and one query through Django's ORM, sync or async. They
note their end too, since their rate runs from the first job's start to the last job's end.
"""

from django.contrib.auth.models import User
from django.db import connection

from benchmarks.probe import probe
from taiga.tasksqueue.manager import manager


@manager.task(name="bench.noop")
async def noop(i: int) -> None:
    """One job of a drain: note that it ran and return."""
    probe.job_started()


@manager.task(name="bench.ping")
async def ping(seq: int, sent: float) -> None:
    """One latency sample: tell the harness when it started."""
    probe.report_start(seq, sent)


@manager.task(name="bench.noop_sync")
def noop_sync(i: int) -> None:
    probe.job_started()
    probe.job_ended()


@manager.task(name="bench.orm_sync")
def orm_sync(i: int) -> None:
    probe.job_started()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auth_user WHERE id = %s", [i])
        cursor.fetchone()
    probe.job_ended()


@manager.task(name="bench.orm_async")
async def orm_async(i: int) -> None:
    probe.job_started()
    await User.objects.filter(id=i).acount()
    probe.job_ended()
