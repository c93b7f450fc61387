"""The worker's health endpoints on a real worker: ready while its worker, listener and pool are
connected; not ready while its database refuses it; ready again when it is back."""

import contextlib
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.tasksqueue.observability.worker_process import get, health, running_worker, scrape
from tests.utils.processes import closed_port, database_url

READY = (200, {"status": "ready", "checks": {"worker": "ok", "listener": "ok", "pool": "ok"}})
DOWN = (
    503,
    {"status": "unavailable", "checks": {"worker": "fail", "listener": "fail", "pool": "fail"}},
)
LIVE = (200, {"status": "live"})


@contextlib.contextmanager
def database_refusing_connections() -> Iterator[None]:
    """The test database refuses new connections and loses those it has (this test's own
    excepted), until the block ends: an outage of this database alone, on a shared server."""
    name = sql.Identifier(connection.settings_dict["NAME"])
    connection.ensure_connection()  # this test's own, kept through the outage
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


@pytest.mark.django_db(transaction=True)
def test_ready_flips_while_the_database_is_away_and_the_worker_counts_one_loss(tmp_path):
    metrics_port, health_port = closed_port(), closed_port()
    options = ("--metrics-port", str(metrics_port), "--health-port", str(health_port))
    with running_worker(tmp_path / "worker.log", *options) as worker:
        worker.wait_for_health(health_port, "/health/ready", READY)
        # The metrics port answers the probes too; the health port serves no metrics.
        assert health(metrics_port, "/health/ready") == READY
        assert health(health_port, "/metrics") == (
            404,
            {"error": "not found", "paths": ["/health/live", "/health/ready"]},
        )
        assert get(health_port, "/health/live", method="POST") == (
            405,
            b'{"error": "GET or HEAD only"}',
        )
        assert get(health_port, "/health/ready", method="HEAD") == (200, b"")

        with database_refusing_connections():
            worker.wait_for_health(health_port, "/health/ready", DOWN)
            assert health(health_port, "/health/live") == LIVE
        worker.wait_for_health(health_port, "/health/ready", READY)

        samples = scrape(metrics_port)
    assert samples[("tasksqueue_worker_connection_losses_total", ())] == 1
    assert samples[("tasksqueue_worker_reconnects_total", ())] == 1
