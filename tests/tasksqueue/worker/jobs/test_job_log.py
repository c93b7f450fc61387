"""The worker's job lines: records made from a template hold what logging's own records would."""

import asyncio
import logging
import time

import pytest
from procrastinate.jobs import Job

from taiga.tasksqueue.worker.jobs import job_log
from taiga.tasksqueue.worker.jobs.job_log import JobLog

# What logging works out per record from the clock (asctime is the formatter's text of
# created), and the template's are the first record's.
TIMING = {"created", "msecs", "relativeCreated", "asctime"}
CALLER = {"pathname", "filename", "module", "funcName", "lineno"}


def a_job(job_id: int = 7) -> Job:
    return Job(
        id=job_id,
        queue="emails",
        lock=None,
        queueing_lock=None,
        task_name="app.tasks.send",
        attempts=1,
        worker_id=3,
    )


def reference_record(caplog, fields: dict[str, object]) -> logging.LogRecord:
    caplog.clear()
    # The worker's id is in the record's fields, not in the line's text.
    args = [value for name, value in fields.items() if name not in ("worker", "worker_id")]
    job_log.logger.info(job_log._STARTED, *args, extra={"job": fields})
    return caplog.records[-1]


@pytest.fixture
def records(caplog):
    with caplog.at_level(logging.INFO, logger=job_log.logger.name):
        yield caplog


def test_a_job_record_holds_what_loggings_own_record_would(records):
    log = JobLog()

    async def start(job_id: int) -> logging.LogRecord:
        log.started(a_job(job_id), job_id)
        made = records.records[-1]
        return made

    async def main() -> tuple[logging.LogRecord, logging.LogRecord, logging.LogRecord]:
        first = await asyncio.create_task(start(7), name="first job")
        # The second record is made from the template the first one left, in another task.
        second = await asyncio.create_task(start(8), name="second job")
        reference = await asyncio.create_task(reference_in_a_task(second), name="second job")
        return first, second, reference

    async def reference_in_a_task(second: logging.LogRecord) -> logging.LogRecord:
        return reference_record(records, second.__dict__["job"])

    before = time.time()
    first, second, reference = asyncio.run(main())
    after = time.time()

    assert second.getMessage() == "job started task=app.tasks.send id=8 queue=emails attempt=2"
    assert second.__dict__["job"] == {
        "task": "app.tasks.send",
        "id": 8,
        "queue": "emails",
        "attempt": 2,
        "worker": None,
        "worker_id": 3,
    }
    same = set(reference.__dict__) - TIMING - CALLER
    assert {key: second.__dict__[key] for key in same} == {
        key: reference.__dict__[key] for key in same
    }
    assert set(second.__dict__) == set(reference.__dict__)
    assert (first.taskName, second.taskName) == ("first job", "second job")
    assert (second.funcName, second.filename, second.module) == ("started", "job_log.py", "job_log")
    assert before <= first.created <= second.created <= after
    assert second.msecs == pytest.approx((second.created % 1) * 1000, abs=1)
    assert second.__dict__["asctime"] == logging.Formatter().formatTime(second)
    assert second.relativeCreated == pytest.approx(
        first.relativeCreated + (second.created - first.created) * 1000
    )


def test_an_ended_line_has_its_level_and_fields(records):
    log = JobLog()
    log.started(a_job(6), 6)
    log.ended(a_job(6), 6, time.time(), "succeeded")
    log.started(a_job(), 7)

    # Made from the template the INFO line left.
    log.ended(a_job(), 7, time.time(), "retry", "ValueError: boom")

    assert records.records[1].levelname == "INFO"
    ended = records.records[-1]
    assert ended.levelno == logging.WARNING
    assert ended.levelname == "WARNING"
    assert ended.getMessage().startswith(
        "job ended task=app.tasks.send id=7 queue=emails attempt=2 duration="
    )
    assert ended.getMessage().endswith(" outcome=retry error=ValueError: boom")


def test_a_record_factory_of_the_projects_own_makes_every_record(records):
    made: list[int] = []
    default = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = default(*args, **kwargs)
        record.request_id = len(made)
        made.append(1)
        return record

    logging.setLogRecordFactory(factory)
    try:
        log = JobLog()
        log.started(a_job(7), 7)
        log.started(a_job(8), 8)
    finally:
        logging.setLogRecordFactory(default)

    assert [record.request_id for record in records.records] == [0, 1]
    assert records.records[1].funcName == "started"
