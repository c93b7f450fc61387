"""Running a worker (`manage.py tasksqueue worker`), one module per part:

- `run.py`: the entry point, `run_worker(WorkerOptions)`; `options.py`: the options;
- `pool.py`: the worker's own connections; `reconnect.py`: statements sent again after a lost
  connection, and the backoff;
- `supervisor.py`: restarts after an outage, the requeue and audit of lost jobs;
- `lean_worker.py`: the per-job path over Procrastinate's worker; `statements.py`: the fetch and
  finish statements; `outcome.py`: how a job's outcome is decided; `job_log.py`: a line per job
  start and end; `connections.py`: Django connections kept across jobs, checked after each;
  `job_threads.py`: the threads of sync tasks;
- `shutdown.py`: SIGTERM and SIGINT.
"""
