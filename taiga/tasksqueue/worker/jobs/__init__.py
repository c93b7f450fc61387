"""The path of each job through a worker: fetched and finished set-wise (`statements.py`), run
(`lean_worker.py`), its outcome decided (`outcome.py`) and logged (`job_log.py`)."""
