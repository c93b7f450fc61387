"""Running a worker (`manage.py tasksqueue worker`). Its life, here: `run.py` (the entry point,
`run_worker(WorkerOptions)`), `options.py`, `preflight.py` (checks before starting),
`supervisor.py` (restarts after an outage, the requeue and audit of lost jobs) and `shutdown.py`
(SIGTERM and SIGINT). Three rooms below:

- `jobs/`: the path of each job (fetch and finish statements, the run, the outcome, the log);
- `queue_db/`: the worker's own connections to the queue (the pool, reconnection);
- `task_runtime/`: where tasks run (the threads of sync tasks, Django's connections).
"""

# The one logger of every part of a worker, under the name operators configure (docs/cli.md).
LOGGER_NAME = "taiga.tasksqueue.worker"
