"""Bad input never loses or corrupts a job: each case on the real database with a real worker."""

import logging

import pytest
from django.db import connection
from procrastinate import exceptions
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.tasksqueue.bad_input_tasks import (
    WEIRD,
    defer_then_roll_back,
    noted,
    raise_huge,
    raise_unpicklable,
    weird,
)
from tests.utils.processes import database_url, manage

pytestmark = pytest.mark.django_db(transaction=True)


def test_names_with_quotes_unicode_and_sql_are_stored_and_matched_literally(run_worker_once):
    job_id = weird.defer_sync(7)
    weird.configure(queueing_lock=WEIRD).defer_sync(1)
    with pytest.raises(exceptions.AlreadyEnqueued):
        weird.configure(queueing_lock=WEIRD).defer_sync(2)

    job = ProcrastinateJob.objects.get(id=job_id)
    assert (job.task_name, job.queue_name, job.lock) == (f"tests.{WEIRD}", WEIRD, WEIRD)

    run_worker_once(queues=(WEIRD,))

    assert set(ProcrastinateJob.objects.values_list("queue_name", "status")) == {
        (WEIRD, "succeeded")
    }
    assert ProcrastinateJob.objects.count() == 2  # the job and the first queueing-lock job


def test_a_job_deferred_inside_a_task_rolls_back_with_the_task_transaction(run_worker_once):
    defer_then_roll_back.defer_sync("inner")

    run_worker_once()

    assert sorted(
        ProcrastinateJob.objects.filter(task_name=noted.name).values_list("args", "status")
    ) == [({"label": "inner: committed"}, "succeeded")]


def test_an_exception_that_cannot_be_pickled_still_fails_the_job_with_its_message(
    run_worker_once, caplog
):
    job_id = raise_unpicklable.defer_sync()

    with caplog.at_level(logging.INFO, logger="taiga.tasksqueue.worker"):
        run_worker_once()

    assert ProcrastinateJob.objects.get(id=job_id).status == "failed"
    assert (
        f"job ended task={raise_unpicklable.name} id={job_id} queue=default attempt=1 "
        in caplog.text
    )
    assert "outcome=failed error=Unpicklable: cannot be pickled" in caplog.text


def test_a_huge_exception_message_fails_the_job_with_a_bounded_log_line(run_worker_once, caplog):
    job_id = raise_huge.defer_sync()

    with caplog.at_level(logging.INFO, logger="taiga.tasksqueue.worker"):
        run_worker_once()

    assert ProcrastinateJob.objects.get(id=job_id).status == "failed"
    [ended] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job ended")]
    assert ended.endswith("outcome=failed error=ValueError: " + "x" * 500 + "… (4999500 more)")


MALFORMED = {
    "null": "null",
    "[1, 2]": "an array",
    '"text"': "a string",
    "3": "a number",
    "true": "a boolean",
}


def test_rows_whose_args_are_not_an_object_fail_with_one_line_and_the_worker_goes_on():
    ids = []
    for stored in MALFORMED:
        job_id = noted.defer_sync("replaced below")
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_jobs SET args = %s::jsonb WHERE id = %s", [stored, job_id]
            )
        ids.append(job_id)
    after = noted.defer_sync("after")

    env = {
        "DATABASE_URL": database_url(),
        "TASKS_MODULES_PATHS": "tests.tasksqueue.bad_input_tasks",
    }
    result = manage("tasksqueue", "worker", "--one-shot", env=env)

    assert result.returncode == 0, result.stderr
    statuses = dict(ProcrastinateJob.objects.values_list("id", "status"))
    assert [statuses[job_id] for job_id in ids] == ["failed"] * len(ids)
    assert statuses[after] == "succeeded"
    ended = [line for line in result.stderr.splitlines() if " job ended " in line]
    for job_id, kind in zip(ids, MALFORMED.values(), strict=True):
        [line] = [line for line in ended if f" id={job_id} " in line]
        assert line.endswith(
            f"outcome=failed error=MalformedJob: its args are {kind}, not an object of named "
            "arguments; the job cannot be run (defer it again with the task's arguments)"
        )
    assert "Traceback" not in result.stderr
