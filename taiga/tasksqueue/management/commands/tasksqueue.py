"""`manage.py tasksqueue init|status|shell|worker`: the tasks queue's command line (docs/cli.md).

Every expected failure (database unreachable, schema not loaded, bad option) is one line on stderr
that names the cause and the fix, with a non-zero exit code.
"""

import asyncio
import contextlib
import json
import shlex
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from procrastinate.exceptions import ConnectorException

from taiga.tasksqueue.exceptions import TasksQueueError
from taiga.tasksqueue.management.arguments import (
    OneLineErrorParser,
    port,
    positive_int,
    positive_seconds,
    seconds,
)
from taiga.tasksqueue.manager import manager
from taiga.tasksqueue.ops.database import connect
from taiga.tasksqueue.ops.schema import apply_schema, require_schema, schema_migrations
from taiga.tasksqueue.ops.shell import TasksQueueShell
from taiga.tasksqueue.ops.status import build_report
from taiga.tasksqueue.text import first_line, plural
from taiga.tasksqueue.worker.options import (
    DELETE_JOBS_CHOICES,
    POLL_INTERVAL_SECONDS,
    WorkerOptions,
)
from taiga.tasksqueue.worker.preflight import LOG_LEVELS, prepare_to_run
from taiga.tasksqueue.worker.run import run_worker


class Command(BaseCommand):
    help = (
        "Manage the tasks queue: load its schema (init), check its health (status), inspect and "
        "fix jobs (shell), run a worker (worker). Run `tasksqueue SUBCOMMAND --help` for details."
    )
    # `status` reports task modules that fail to import, and `worker` refuses to start with one;
    # running every system check first would stop both with a multi-line report instead.
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds the top-level parser itself; it reports unknown subcommands and options.
        parser.__class__ = OneLineErrorParser
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(
            dest="subcommand",
            metavar="SUBCOMMAND",
            required=True,
            parser_class=OneLineErrorParser,
        )

        init = subparsers.add_parser(
            "init",
            help="Load the tasks queue's database schema.",
            description="Apply the migrations that make up the tasks queue's schema "
            "(Procrastinate's and this project's). Running it again when nothing is pending "
            "changes nothing.",
        )
        init.add_argument(
            "--info",
            action="store_true",
            help="List the schema's migrations and whether each is applied; change nothing.",
        )

        status = subparsers.add_parser(
            "status",
            help="Check the state of the tasks queue; exit 1 if it is unhealthy.",
            description="Check the database, the schema, the registered tasks, the queues, the "
            "workers, the periodic tasks and orphan jobs, one line each. Exit 0 when healthy, 1 "
            "when not, so it can serve as a container healthcheck.",
        )
        status.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print the same report as one JSON document.",
        )

        shell = subparsers.add_parser(
            "shell",
            help="Run an administration shell on the tasks queue.",
            description="Procrastinate's administration shell (list_jobs, list_queues, list_tasks, "
            "list_locks, cancel, retry) on the project's database, with retry_jobs and "
            "delete_jobs by status and task. Type commands at the prompt, "
            "pipe them on stdin (`echo list_queues | manage.py tasksqueue shell`), or give one as "
            "arguments. Exits 1 if a command failed.",
        )
        shell.add_argument(
            "shell_command",
            nargs="*",
            metavar="COMMAND",
            help="Run this one command and exit, e.g. `list_jobs status=failed`.",
        )

        worker = subparsers.add_parser(
            "worker",
            help="Run a worker that processes jobs.",
            description="Run a worker with its own database connections (three, and one to "
            "LISTEN), and Django's for its tasks, kept across jobs (docs/connections.md). "
            "SIGTERM or SIGINT stops it taking jobs and lets the running ones finish (up to "
            "--shutdown-timeout), then it exits 0; a second signal stops it at once.",
        )
        worker.add_argument(
            "-c",
            "--concurrency",
            type=positive_int,
            default=1,
            help="How many jobs to run at once (default: 1).",
        )
        worker.add_argument(
            "-q",
            "--queues",
            nargs="+",
            default=[],
            metavar="QUEUE",
            help="Only take jobs from these queues, space-separated (default: every queue).",
        )
        worker.add_argument(
            "-n",
            "--name",
            help="The worker's name, in its logs, job context, `status` and the dashboard "
            "(default: HOST:PID).",
        )
        worker.add_argument(
            "--one-shot",
            action="store_true",
            help="Process every job that is ready now, then exit 0.",
        )
        worker.add_argument(
            "--delete-jobs",
            choices=DELETE_JOBS_CHOICES,
            default="never",
            help="Delete finished jobs: never (default), successful ones, or always.",
        )
        worker.add_argument(
            "--shutdown-timeout",
            type=seconds,
            metavar="SECONDS",
            help="On SIGTERM/SIGINT, how long running jobs may take to finish before they are "
            "aborted (default: no limit).",
        )
        worker.add_argument(
            "--no-listen",
            action="store_false",
            dest="listen",
            help="Find jobs by polling only, without LISTEN/NOTIFY: for a worker that can reach "
            "the database only through a pooler in transaction mode.",
        )
        worker.add_argument(
            "--poll-interval",
            type=positive_seconds,
            default=POLL_INTERVAL_SECONDS,
            metavar="SECONDS",
            help="How often to look for jobs without a notification (default: "
            f"{POLL_INTERVAL_SECONDS:g}); with --no-listen, the longest an idle worker takes to "
            "start a new job.",
        )
        worker.add_argument(
            "--metrics-port",
            type=port,
            metavar="PORT",
            help="Serve this worker's Prometheus metrics at /metrics on this port, and its "
            "health at /health/live and /health/ready (docs/observability.md; default: none).",
        )
        worker.add_argument(
            "--health-port",
            type=port,
            metavar="PORT",
            help="Serve only /health/live and /health/ready on this port (default: none; the "
            "metrics port answers them too).",
        )
        worker.add_argument(
            "--metrics-address",
            default="127.0.0.1",
            metavar="ADDRESS",
            help="The address both ports listen on (default: 127.0.0.1, this host only; "
            "0.0.0.0 for Prometheus or Kubernetes probes from outside a container).",
        )
        worker.add_argument(
            "--log-level",
            type=str.lower,
            choices=LOG_LEVELS,
            help="Log level of the worker (default: TAIGA_LOG_LEVEL, info); debug also shows "
            "Procrastinate's own logs.",
        )

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        handler = getattr(self, f"handle_{subcommand}")
        try:
            handler(**options)
        except TasksQueueError as exc:
            raise CommandError(str(exc), returncode=1) from exc

    def handle_init(self, *, info: bool, **options: Any) -> None:
        connect()
        if info:
            migrations = schema_migrations()
            for migration in migrations:
                self.stdout.write(f"[{'X' if migration.applied else ' '}] {migration}")
            pending = sum(not migration.applied for migration in migrations)
            self.stdout.write(f"{len(migrations) - pending} applied, {pending} pending")
            return
        applied = apply_schema()
        for key in applied:
            self.stdout.write(f"Applied {key}")
        if applied:
            self.stdout.write(f"Schema loaded: {plural(len(applied), 'migration')} applied.")
        else:
            total = len(schema_migrations())
            self.stdout.write(
                f"Nothing to apply: the schema is up to date ({plural(total, 'migration')})."
            )

    def handle_status(self, *, as_json: bool, **options: Any) -> None:
        report = build_report()
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            for check in report.checks:
                line = f"{check.name}: {check.state.upper()} - {check.summary}"
                self.stdout.write(line + (f"; fix: {check.fix}" if check.fix else ""))
        if not report.healthy:
            first, *others = report.failures
            more = (
                f" (and {plural(len(others), 'more failing check')}, see above)" if others else ""
            )
            raise CommandError(
                f"Unhealthy: {first.name}: {first.summary}; fix: {first.fix}{more}", returncode=1
            )

    def handle_shell(self, *, shell_command: list[str], **options: Any) -> None:
        require_schema()
        interactive = not shell_command and sys.stdin.isatty()
        shell = TasksQueueShell(manager.job_manager, stdin=sys.stdin, interactive=interactive)
        if shell_command:
            shell.onecmd(shlex.join(shell_command))
        else:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C leaves, as Ctrl-D does
                shell.cmdloop()
            if interactive:
                self.stdout.write("")  # leave the terminal on a fresh line
        if shell.failed:
            raise CommandError(
                f"{plural(shell.failed, 'shell command')} failed (see the errors above)",
                returncode=1,
            )

    def handle_worker(
        self,
        *,
        concurrency: int,
        queues: list[str],
        name: str | None,
        one_shot: bool,
        delete_jobs: str,
        shutdown_timeout: float | None,
        log_level: str | None,
        metrics_port: int | None,
        health_port: int | None,
        metrics_address: str,
        listen: bool,
        poll_interval: float,
        **options: Any,
    ) -> None:
        prepare_to_run(log_level)
        worker_options = WorkerOptions(
            concurrency=concurrency,
            queues=tuple(queues),
            name=name,
            one_shot=one_shot,
            delete_jobs=delete_jobs,
            shutdown_timeout=shutdown_timeout,
            metrics_port=metrics_port,
            health_port=health_port,
            metrics_address=metrics_address,
            listen=listen,
            poll_interval=poll_interval,
        )
        try:
            asyncio.run(run_worker(worker_options))
        except ConnectorException as exc:
            cause = first_line(exc.__cause__ or exc)
            raise CommandError(
                f"The worker stopped on a database error ({cause}); check the database, then "
                "restart the worker (jobs it was running show as stalled in `tasksqueue status`)",
                returncode=1,
            ) from exc
