"""The administration shell: Procrastinate's commands with checked arguments and one-line answers,
and retry_jobs / delete_jobs by status and task, typed at a prompt or piped on stdin."""

import cmd
import json
import sys
from typing import Any, TextIO

from procrastinate import jobs
from procrastinate.manager import JobManager
from procrastinate.shell import ProcrastinateShell, print_job

from taiga.tasksqueue.exceptions import TasksQueueError
from taiga.tasksqueue.observability.tracing import split_trace
from taiga.tasksqueue.ops import job_actions
from taiga.tasksqueue.text import first_line, plural

FILTERS = ("queue", "task", "status", "lock")
JOB_FILTERS = ("id", "queue", "task", "status", "lock", "queueing_lock")


class BadArguments(TasksQueueError):
    """A shell command's arguments are not what it takes."""


def _job_id(text: str) -> int:
    if not text.isdecimal():
        raise BadArguments(f"expected a job id (a whole number), got {text!r}")
    return int(text)


def _arguments(
    line: str, keys: tuple[str, ...], flags: tuple[str, ...] = ()
) -> dict[str, str | None]:
    """`key=value` words among `keys` and bare words among `flags` (valued None), the status
    checked: Procrastinate's shell passes anything on, and the database answers `Database error`."""
    found: dict[str, str | None] = {}
    for word in line.split():
        key, equals, value = word.partition("=")
        if equals and key in keys:
            found[key] = value
        elif not equals and word in flags:
            found[word] = None
        else:
            expected = " ".join([f"[{key}=...]" for key in keys] + [f"[{flag}]" for flag in flags])
            raise BadArguments(f"unexpected argument {word!r}; expected {expected}")
    if (status := found.get("status")) is not None:
        job_actions.check_status(status)
    return found


def _status_and_task(line: str, command: str) -> tuple[str, str]:
    found = _arguments(line, ("status", "task"))
    status, task = found.get("status"), found.get("task")
    if not status or not task:
        raise BadArguments(
            f"needs status=STATUS and task=TASK, e.g. {command} status=failed task=app.tasks.name"
        )
    return status, task


def _decoded(job: jobs.Job) -> jobs.Job:
    # Django's PostgreSQL backend leaves jsonb as text (its JSONField decodes it), so the rows
    # that Procrastinate's Django connector returns carry the arguments undecoded.
    arguments: Any = job.task_kwargs
    if isinstance(arguments, str):
        arguments = json.loads(arguments)
    return job.evolve(task_kwargs=split_trace(arguments)[0])


def _jobs(count: int, status: str, task: str) -> str:
    return f"{plural(count, f'{status} job')} of task {task!r}"


class TasksQueueShell(ProcrastinateShell):
    intro = "Tasks queue shell. Type help or ? to list the commands, Ctrl-D to leave."
    prompt = "tasksqueue> "

    def __init__(self, job_manager: JobManager, *, stdin: TextIO, interactive: bool) -> None:
        super().__init__(job_manager)
        self.stdin = stdin
        self.use_rawinput = interactive
        if not interactive:
            # Piped commands are read line by line, without a banner or prompts in the output.
            self.intro = self.prompt = ""
        self.failed = 0

    def default(self, line: str) -> None:
        self._fail(f"unknown command {line.split()[0]!r}; type help to list the commands")

    def emptyline(self) -> bool:
        # cmd.Cmd repeats the last command on an empty line: a blank line after delete_jobs must
        # not delete again.
        return False

    def _fail(self, message: str) -> None:
        self.failed += 1
        print(f"error: {message}", file=sys.stderr)

    def onecmd(self, line: str) -> bool:
        # Procrastinate's shell prints a traceback for a bad command (`retry abc`, an unknown job
        # id); one line on stderr is enough, and the count lets a piped run exit non-zero.
        try:
            return cmd.Cmd.onecmd(self, line)
        except TasksQueueError as exc:  # a refusal or a usage error, worded for the operator
            self._fail(f"{line.strip()}: {exc}")
        except Exception as exc:
            self._fail(f"{line.strip()}: {type(exc).__name__}: {first_line(exc)}")
        return False

    def _print_job(self, job_id: int) -> None:
        (job,) = self.job_manager.list_jobs(id=job_id)
        print_job(job)

    def do_list_jobs(self, arg: str) -> None:
        """List jobs, oldest first; `details` adds attempts, priority, schedule, arguments, lock.
        Usage: list_jobs [id=ID] [queue=QUEUE] [task=TASK] [status=STATUS] [lock=LOCK]
                         [queueing_lock=LOCK] [details]
        Example: list_jobs queue=default task=app.tasks.sums status=failed details"""
        found = _arguments(arg, JOB_FILTERS, flags=("details",))
        details = "details" in found
        filters: dict[str, Any] = {key: value for key, value in found.items() if key in JOB_FILTERS}
        if "id" in filters:
            filters["id"] = _job_id(filters["id"])
        for job in self.job_manager.list_jobs(**filters):
            print_job(_decoded(job), details=details)

    def do_list_queues(self, arg: str) -> None:
        """Jobs per queue, by status.
        Usage: list_queues [queue=QUEUE] [task=TASK] [status=STATUS] [lock=LOCK]"""
        _arguments(arg, FILTERS)
        super().do_list_queues(arg)

    def do_list_tasks(self, arg: str) -> None:
        """Jobs per task, by status.
        Usage: list_tasks [queue=QUEUE] [task=TASK] [status=STATUS] [lock=LOCK]"""
        _arguments(arg, FILTERS)
        super().do_list_tasks(arg)

    def do_list_locks(self, arg: str) -> None:
        """Jobs per lock, by status.
        Usage: list_locks [queue=QUEUE] [task=TASK] [status=STATUS] [lock=LOCK]"""
        _arguments(arg, FILTERS)
        super().do_list_locks(arg)

    def do_retry(self, arg: str) -> None:
        """Put a failed job, or a doing one whose worker is gone, back in todo, to run now.
        Usage: retry JOB_ID"""
        job_id = _job_id(arg.strip())
        job_actions.retry_job(job_id)
        self._print_job(job_id)

    def do_cancel(self, arg: str) -> None:
        """Cancel a job waiting in todo: its status becomes cancelled and no worker runs it.
        Usage: cancel JOB_ID"""
        job_id = _job_id(arg.strip())
        job_actions.cancel_job(job_id)
        self._print_job(job_id)

    def do_retry_jobs(self, arg: str) -> None:
        """Put every failed job of a task back in todo, to run now.
        Usage: retry_jobs status=failed task=TASK"""
        status, task = _status_and_task(arg, "retry_jobs")
        retried = job_actions.retry_jobs(status=status, task=task)
        print(f"Retried {_jobs(retried, status, task)}: they are todo again")

    def do_delete_jobs(self, arg: str) -> None:
        """Delete every job of a task in a status, with its events; never jobs in doing.
        Usage: delete_jobs status=STATUS task=TASK
        Example: delete_jobs status=failed task=billing.tasks.send_invoice"""
        status, task = _status_and_task(arg, "delete_jobs")
        deleted = job_actions.delete_jobs(status=status, task=task)
        print(f"Deleted {_jobs(deleted, status, task)}")
