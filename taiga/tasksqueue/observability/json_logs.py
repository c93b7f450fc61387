"""One JSON object per log line, for log aggregation: a formatter any LOGGING dict can name.

    "formatters": {"json": {"()": "taiga.tasksqueue.observability.json_logs.JsonFormatter"}}

Every line has `time` (ISO 8601, UTC, milliseconds), `level`, `logger` and `message`. A worker's job
lines (worker/jobs/job_log.py) add `job_id`, `task`, `queue`, `attempt`, `worker` (the worker's
name, HOST:PID unless `--name`) and `worker_id` (its row's id, new at each restart after an
outage), and their ends `duration` (seconds), `outcome` and `error`. A record with an exception adds
`exception`, its traceback. Nothing else of a record is written: extras of other libraries may
hold a job's arguments, which logs must not spread.
"""

import datetime
import json
import logging
from typing import Any

# The job line's fields (the record's `job`) and their names in the JSON object.
JOB_FIELDS = (
    ("id", "job_id"),
    ("task", "task"),
    ("queue", "queue"),
    ("attempt", "attempt"),
    ("worker", "worker"),
    ("worker_id", "worker_id"),
    ("duration", "duration"),
    ("outcome", "outcome"),
    ("error", "error"),
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        job = getattr(record, "job", None)
        if isinstance(job, dict):
            entry.update((name, job[key]) for key, name in JOB_FIELDS if key in job)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a value JSON has no type for is written as its text rather than lost.
        return json.dumps(entry, ensure_ascii=False, default=str)
