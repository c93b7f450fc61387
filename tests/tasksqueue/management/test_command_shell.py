"""`tasksqueue shell`: Procrastinate's administration shell on the project's database, with
commands piped on stdin, given as arguments, or typed at a prompt."""

import io
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.emails.tasks import send_email
from tests.utils.processes import ROOT, TIMEOUT, database_url, manage

ONE_JOB_WAITING = (
    "emails: 1 jobs (todo: 1, doing: 0, succeeded: 0, failed: 0, cancelled: 0, aborted: 0)\n"
)
TASK = "taiga.emails.tasks.send_email"


def defer() -> int:
    return send_email.defer_sync("ann@example.com", "notice", {"subject": "Hi", "message": "Yo"})


def shell(capsys, monkeypatch, *args: str, stdin: str = "") -> tuple[str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    call_command("tasksqueue", "shell", *args)
    captured = capsys.readouterr()
    return captured.out, captured.err


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
        "error: retry abc: ValueError: invalid literal for int() with base 10: 'abc'\n"
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
