"""The administration shell: Procrastinate's own (list_jobs, list_queues, list_tasks, list_locks,
cancel, retry), on the project's database, typed at a prompt or piped on stdin."""

import cmd
import sys
from typing import TextIO

from procrastinate.manager import JobManager
from procrastinate.shell import ProcrastinateShell

from taiga.tasksqueue.text import first_line


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

    def _fail(self, message: str) -> None:
        self.failed += 1
        print(f"error: {message}", file=sys.stderr)

    def onecmd(self, line: str) -> bool:
        # Procrastinate's shell prints a traceback for a bad command (`retry abc`, an unknown job
        # id); one line on stderr is enough, and the count lets a piped run exit non-zero.
        try:
            return cmd.Cmd.onecmd(self, line)
        except Exception as exc:
            self._fail(f"{line.strip()}: {type(exc).__name__}: {first_line(exc)}")
            return False
