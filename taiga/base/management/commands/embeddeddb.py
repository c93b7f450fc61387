"""`manage.py embeddeddb status|stop`: look after the embedded PostgreSQL."""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from taiga.base.db import server

NOT_RUNNING = 3


class Command(BaseCommand):
    help = (
        "Show or stop the embedded PostgreSQL used when DATABASE_URL is unset. "
        "Its data lives in EMBEDDED_DB_DIR."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "action",
            choices=["status", "stop"],
            help="status: say whether it runs and where its data lives (exit 3 when it does not "
            "run); stop: stop it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir = Path(settings.EMBEDDED_DB_DIR)
        if options["action"] == "status":
            pid = server.running_pid(data_dir)
            state = f"running (pid {pid})" if pid else "stopped"
            self.stdout.write(f"embedded PostgreSQL: {state}; data in {data_dir}")
            if pid is None:
                # pg_ctl's status code for a server that is not running, for scripts to test.
                raise SystemExit(NOT_RUNNING)
            return
        try:
            stopped = server.stop(data_dir)
        except server.EmbeddedServerError as exc:
            raise CommandError(str(exc)) from exc
        if stopped:
            self.stdout.write(f"embedded PostgreSQL stopped; data kept in {data_dir}")
        else:
            self.stdout.write(f"embedded PostgreSQL was not running; data in {data_dir}")
