"""Where a worker's tasks run: the threads of sync tasks (`job_threads.py`), and Django's
connections kept across jobs and checked after each (`connections.py`)."""
