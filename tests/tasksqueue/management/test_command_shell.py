"""`tasksqueue shell`: Procrastinate's administration shell on the project's database, with
commands piped on stdin, given as arguments, or typed at a prompt."""

import io
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

from taiga.emails.tasks import send_email
from taiga.tasksqueue.manager import manager as tqmanager
from tests.tasksqueue.backends.django_tasks import add
from tests.utils.processes import ROOT, TIMEOUT, database_url, manage

ONE_JOB_WAITING = (
    "emails: 1 jobs (todo: 1, doing: 0, succeeded: 0, failed: 0, cancelled: 0, aborted: 0)\n"
)
TASK = "taiga.emails.tasks.send_email"


def defer() -> int:
    return send_email.defer_sync("ann@example.com", "notice", {"subject": "Hi", "message": "Yo"})


def job(task_name: str, status: str, *, worker: int | None = None) -> int:
    job_id = tqmanager.app.configure_task(task_name, queue="misc").defer()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = %s, worker_id = %s WHERE id = %s",
            [status, worker, job_id],
        )
    return job_id


def worker(seconds_since_heartbeat: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (now() - make_interval(secs => %s)) RETURNING id",
            [seconds_since_heartbeat],
        )
        (worker_id,) = cursor.fetchone()
    return int(worker_id)


def statuses(*job_ids: int) -> list[tuple[str, int] | None]:
    """(status, attempts) of each job, None for one that is gone."""
    jobs = {job.id: (job.status, job.attempts) for job in ProcrastinateJob.objects.all()}
    return [jobs.get(job_id) for job_id in job_ids]


def shell(capsys, monkeypatch, *args: str, stdin: str = "") -> tuple[str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    call_command("tasksqueue", "shell", *args)
    captured = capsys.readouterr()
    return captured.out, captured.err


def failing_shell(capsys, monkeypatch, *, stdin: str) -> tuple[str, str, str]:
    """(stdout, stderr, the command's error) of a run in which some command failed."""
    with pytest.raises(CommandError) as raised:
        shell(capsys, monkeypatch, stdin=stdin)
    assert raised.value.returncode == 1
    captured = capsys.readouterr()
    return captured.out, captured.err, str(raised.value)


@pytest.mark.django_db
def test_piped_commands_run_in_order_without_prompts(capsys, monkeypatch):
    first, second = defer(), defer()
    ProcrastinateJob.objects.filter(id=second).update(status="failed")

    out, err = shell(
        capsys,
        monkeypatch,
        stdin=f"list_queues\ncancel {first}\nretry {second}\nlist_jobs status=todo\n",
    )

    assert err == ""
    assert out == (
        "emails: 2 jobs (todo: 1, doing: 0, succeeded: 0, failed: 1, cancelled: 0, aborted: 0)\n"
        f"#{first} {TASK} on emails - [cancelled]\n"
        f"#{second} {TASK} on emails - [todo]\n"
        f"#{second} {TASK} on emails - [todo]\n"
    )


@pytest.mark.django_db
def test_one_command_given_as_arguments_prints_its_answer(capsys, monkeypatch):
    job_id = defer()

    out, err = shell(capsys, monkeypatch, "list_jobs", f"id={job_id}", "details")

    assert err == ""
    assert out.startswith(f"#{job_id} {TASK} on emails - [todo] (attempts=0, priority=0, ")


@pytest.mark.django_db
def test_failed_commands_are_one_line_each_and_exit_1(capsys, monkeypatch):
    with pytest.raises(CommandError) as raised:
        shell(capsys, monkeypatch, stdin="retry abc\nfrobnicate now\nlist_queues\n")

    captured = capsys.readouterr()
    assert (raised.value.returncode, str(raised.value)) == (
        1,
        "2 shell commands failed (see the errors above)",
    )
    assert captured.err == (
        "error: retry abc: expected a job id (a whole number), got 'abc'\n"
        "error: unknown command 'frobnicate'; type help to list the commands\n"
    )
    assert captured.out == ""  # no queue has jobs


@pytest.mark.django_db(transaction=True)
def test_commands_piped_on_stdin_print_their_answers_and_exit_0():
    defer()

    result = manage(
        "tasksqueue", "shell", env={"DATABASE_URL": database_url()}, stdin="list_queues\n"
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == ONE_JOB_WAITING


@pytest.mark.django_db(transaction=True)
def test_at_a_terminal_it_greets_prompts_and_leaves_on_ctrl_d():
    defer()
    terminal, shell_side = os.openpty()
    with subprocess.Popen(
        [sys.executable, "manage.py", "tasksqueue", "shell"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        stdin=shell_side,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        os.close(shell_side)
        os.write(terminal, b"list_queues\n\x04")  # a command, then Ctrl-D on the next line
        out, err = process.communicate(timeout=TIMEOUT)
    os.close(terminal)

    assert (process.returncode, err) == (0, "")
    assert out == (
        "Tasks queue shell. Type help or ? to list the commands, Ctrl-D to leave.\n"
        f"tasksqueue> {ONE_JOB_WAITING}"
        "tasksqueue> \n"
    )


RETRY_REFUSED = "only a failed job, or a doing one whose worker is gone, can be retried"


@pytest.mark.django_db
def test_retry_of_a_missing_or_succeeded_job_says_why_and_exits_1(capsys, monkeypatch):
    done = job(TASK, "succeeded")
    missing = done + 1000

    out, err, error = failing_shell(capsys, monkeypatch, stdin=f"retry {missing}\nretry {done}\n")

    assert (out, error) == ("", "2 shell commands failed (see the errors above)")
    assert err == (
        f"error: retry {missing}: no job {missing}; list_jobs shows the jobs\n"
        f"error: retry {done}: job {done} is succeeded; {RETRY_REFUSED}\n"
    )
    assert statuses(done) == [("succeeded", 0)]


@pytest.mark.django_db
def test_retry_of_a_doing_job_waits_for_its_worker_to_be_gone(capsys, monkeypatch):
    running = job(TASK, "doing", worker=worker(seconds_since_heartbeat=1))
    stalled = job(TASK, "doing", worker=worker(seconds_since_heartbeat=600))

    out, err, _ = failing_shell(capsys, monkeypatch, stdin=f"retry {running}\nretry {stalled}\n")

    assert err == (
        f"error: retry {running}: job {running} is doing on a live worker; it can be retried once "
        "that worker has been silent for TASKSQUEUE_STALLED_AFTER_SECONDS (60s)\n"
    )
    assert out == f"#{stalled} {TASK} on misc - [todo]\n"
    assert statuses(running, stalled) == [("doing", 0), ("todo", 1)]


@pytest.mark.django_db
def test_cancel_of_a_finished_or_missing_job_says_why_and_exits_1(capsys, monkeypatch):
    done, waiting = job(TASK, "succeeded"), job(TASK, "todo")
    missing = waiting + 1000

    out, err, error = failing_shell(
        capsys, monkeypatch, stdin=f"cancel {done}\ncancel {missing}\ncancel {waiting}\n"
    )

    assert error == "2 shell commands failed (see the errors above)"
    assert err == (
        f"error: cancel {done}: job {done} is succeeded; only a todo job can be cancelled\n"
        f"error: cancel {missing}: no job {missing}; list_jobs shows the jobs\n"
    )
    assert out == f"#{waiting} {TASK} on misc - [cancelled]\n"
    assert statuses(done, waiting) == [("succeeded", 0), ("cancelled", 0)]


@pytest.mark.django_db
def test_help_cancel_says_the_job_becomes_cancelled(capsys, monkeypatch):
    out, err = shell(capsys, monkeypatch, "help", "cancel")

    assert (out, err) == (
        "Cancel a job waiting in todo: its status becomes cancelled and no worker runs it.\n"
        "Usage: cancel JOB_ID\n",
        "",
    )


@pytest.mark.django_db
def test_an_unknown_status_or_argument_is_named_before_any_query(capsys, monkeypatch):
    known = "todo, doing, succeeded, failed, cancelled, aborting, aborted"

    out, err, error = failing_shell(
        capsys,
        monkeypatch,
        stdin="list_jobs status=bogus\nlist_tasks status=Failed\nlist_jobs colour=red\n"
        "list_jobs id=x\nlist_queues\n",
    )

    assert (out, error) == ("", "4 shell commands failed (see the errors above)")
    assert err == (
        f"error: list_jobs status=bogus: unknown status 'bogus'; use one of {known}\n"
        f"error: list_tasks status=Failed: unknown status 'Failed'; use one of {known}\n"
        "error: list_jobs colour=red: unexpected argument 'colour=red'; expected [id=...] "
        "[queue=...] [task=...] [status=...] [lock=...] [queueing_lock=...] [details]\n"
        "error: list_jobs id=x: expected a job id (a whole number), got 'x'\n"
    )


@pytest.mark.django_db
def test_list_jobs_details_prints_the_arguments_as_a_dict(capsys, monkeypatch):
    job_id = defer()

    out, err = shell(capsys, monkeypatch, "list_jobs", f"id={job_id}", "details")

    assert (out, err) == (
        f"#{job_id} {TASK} on emails - [todo] (attempts=0, priority=0, scheduled_at=None, "
        # jsonb keeps keys shortest first
        "args={'email': 'ann@example.com', 'context': {'message': 'Yo', 'subject': 'Hi'}, "
        "'template': 'notice'}, lock=None)\n",
        "",
    )


@pytest.mark.django_db
def test_an_empty_line_does_not_repeat_the_last_command(capsys, monkeypatch):
    job_id = job(TASK, "failed")

    out, err = shell(capsys, monkeypatch, stdin=f"retry {job_id}\n\n")

    assert (out, err) == (f"#{job_id} {TASK} on misc - [todo]\n", "")
    assert statuses(job_id) == [("todo", 1)]


LOST = "gone.tasks.lost"


@pytest.mark.django_db
def test_retry_jobs_puts_the_failed_jobs_of_one_task_back_in_todo(capsys, monkeypatch):
    failed = [job(LOST, "failed"), job(LOST, "failed")]
    others = [job(LOST, "succeeded"), job("gone.tasks.other", "failed"), job(TASK, "failed")]

    out, err = shell(capsys, monkeypatch, "retry_jobs", "status=failed", f"task={LOST}")

    assert (out, err) == (f"Retried 2 failed jobs of task '{LOST}': they are todo again\n", "")
    assert statuses(*failed, *others) == [
        ("todo", 1),
        ("todo", 1),
        ("succeeded", 0),
        ("failed", 0),
        ("failed", 0),
    ]


@pytest.mark.django_db
def test_delete_jobs_deletes_the_jobs_of_one_task_in_one_status(capsys, monkeypatch):
    doomed = [job(LOST, "todo"), job(LOST, "todo")]
    kept = [job(LOST, "failed"), job(LOST, "doing"), job("gone.tasks.other", "todo")]

    out, err = shell(capsys, monkeypatch, "delete_jobs", "status=todo", f"task={LOST}")

    assert (out, err) == (f"Deleted 2 todo jobs of task '{LOST}'\n", "")
    assert statuses(*doomed, *kept) == [None, None, ("failed", 0), ("doing", 0), ("todo", 0)]
    assert not ProcrastinateEvent.objects.filter(job_id__in=doomed).exists()


@pytest.mark.django_db
def test_retry_jobs_and_delete_jobs_refuse_what_is_unsafe_or_matches_nothing(capsys, monkeypatch):
    jobs = [job(LOST, "doing"), job(LOST, "todo"), job(LOST, "failed")]

    out, err, error = failing_shell(
        capsys,
        monkeypatch,
        stdin=f"delete_jobs status=doing task={LOST}\n"
        f"delete_jobs status=aborting task={LOST}\n"
        f"delete_jobs status=bogus task={LOST}\n"
        "delete_jobs status=failed\n"
        f"retry_jobs task={LOST}\n"
        f"retry_jobs status=todo task={LOST}\n"
        "delete_jobs status=failed task=no.such.task\n"
        f"retry_jobs status=failed task={TASK}\n",
    )

    assert (out, error) == ("", "8 shell commands failed (see the errors above)")
    deletable = "todo, succeeded, failed, cancelled, aborted"
    assert err.splitlines() == [
        f"error: delete_jobs status=doing task={LOST}: doing jobs may be running on a worker and "
        f"are not deleted; delete jobs that are {deletable}",
        f"error: delete_jobs status=aborting task={LOST}: aborting jobs may be running on a "
        f"worker and are not deleted; delete jobs that are {deletable}",
        f"error: delete_jobs status=bogus task={LOST}: unknown status 'bogus'; use one of todo, "
        "doing, succeeded, failed, cancelled, aborting, aborted",
        "error: delete_jobs status=failed: needs status=STATUS and task=TASK, e.g. delete_jobs "
        "status=failed task=app.tasks.name",
        f"error: retry_jobs task={LOST}: needs status=STATUS and task=TASK, e.g. retry_jobs "
        "status=failed task=app.tasks.name",
        f"error: retry_jobs status=todo task={LOST}: only failed jobs can be retried by task, not "
        "todo ones; a stalled doing job is retried by its id (retry ID)",
        "error: delete_jobs status=failed task=no.such.task: no failed job of task "
        "'no.such.task'; list_tasks shows the jobs by task",
        f"error: retry_jobs status=failed task={TASK}: no failed job of task '{TASK}'; "
        "list_tasks shows the jobs by task",
    ]
    assert statuses(*jobs) == [("doing", 0), ("todo", 0), ("failed", 0)]


@pytest.mark.django_db(transaction=True)
def test_delete_jobs_given_as_arguments_exits_1_once_nothing_matches():
    job(LOST, "failed")
    command = ("tasksqueue", "shell", "delete_jobs", "status=failed", f"task={LOST}")
    env = {"DATABASE_URL": database_url()}

    first, again = manage(*command, env=env), manage(*command, env=env)

    assert (first.returncode, first.stdout, first.stderr) == (
        0,
        f"Deleted 1 failed job of task '{LOST}'\n",
        "",
    )
    assert (again.returncode, again.stdout, again.stderr) == (
        1,
        "",
        f"error: delete_jobs status=failed task={LOST}: no failed job of task '{LOST}'; "
        "list_tasks shows the jobs by task\n"
        "CommandError: 1 shell command failed (see the errors above)\n",
    )


@pytest.mark.django_db
def test_the_jobs_of_django_tasks_are_listed_and_retried_like_any_other(capsys, monkeypatch):
    result = add.using(queue_name="misc").enqueue(1)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = %s", [result.id])

    out, err = shell(
        capsys, monkeypatch, stdin=f"list_jobs task={add.module_path}\nretry {result.id}\n"
    )

    assert err == ""
    assert out == (
        f"#{result.id} {add.module_path} on misc - [failed]\n"
        f"#{result.id} {add.module_path} on misc - [todo]\n"
    )
    assert statuses(int(result.id)) == [("todo", 1)]  # a retry counts the failed attempt
    result.refresh()
    assert result.status == "READY"
