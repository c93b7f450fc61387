"""PostgreSQL backend that starts the embedded server on the first connection.

Settings are loaded without touching the server (so `manage.py check` and `--help` stay fast); the
server is started only when a connection is actually opened, by Django or by the worker, which reads
its connection parameters from this same wrapper.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import OperationalError
from django.db.backends.postgresql import base, client

from taiga.base.db import server


class DatabaseClient(client.DatabaseClient):
    def runshell(self, parameters: Iterable[str]) -> None:
        # psql needs the socket and port, which the settings hold once the server runs.
        self.connection.get_connection_params()
        super().runshell(parameters)


class DatabaseWrapper(base.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self) -> dict[str, Any]:
        try:
            address = server.ensure_running(
                Path(settings.EMBEDDED_DB_DIR), settings.EMBEDDED_DB_NAME
            )
        except server.EmbeddedServerError as exc:
            # The error any PostgreSQL backend raises for a server it cannot reach.
            raise OperationalError(str(exc)) from exc
        self.settings_dict["HOST"] = address.host
        self.settings_dict["PORT"] = str(address.port)
        return super().get_connection_params()
