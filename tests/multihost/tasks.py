"""The task the multi-host tests' workers run (imported through TASKS_MODULES_PATHS).

Each run writes a row to a side table of the test's own, `multihost_runs` (queue_rows.py creates
it), naming the job and the worker, through the worker's Django connection: the rows say which
host ran which job, and how many times each job ran. The test process never imports this module,
so the task is registered only in the processes on the hosts.
"""

import time

from django.db import InterfaceError, OperationalError, connection

from taiga.tasksqueue import JobContext, RetryStrategy
from taiga.tasksqueue.manager import manager as tqmanager

# Long enough that a run of 5,000 jobs lasts some seconds, so that a host can be cut off mid-run.
JOB_SECONDS = 0.005

# The task's own connection dies with the primary in a failover: like any task that writes to the
# database, it says which errors are worth another attempt (the app fails a job whose task raises
# unless its strategy says so). Once a second, for up to a minute.
RETRY_ON_LOST_DATABASE = RetryStrategy(
    max_attempts=60, wait=1, retry_exceptions={OperationalError, InterfaceError}
)


@tqmanager.task(pass_context=True, retry=RETRY_ON_LOST_DATABASE)
def record_run(context: JobContext, n: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO multihost_runs (job_id, worker) VALUES (%s, %s)",
            [context.job.id, context.worker_name],
        )
    time.sleep(JOB_SECONDS)
    return n
