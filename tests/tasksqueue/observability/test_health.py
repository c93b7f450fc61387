"""The health endpoints, on the test database and on an embedded PostgreSQL of the test's own that
the test starts, loads and stops."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from taiga.base.db import server
from taiga.tasksqueue.observability import state_metrics
from taiga.tasksqueue.ops.schema import apply_schema

ALIAS = "health_probe"
TOKEN = "health-test-token"
RUNS = Path(tempfile.gettempdir()) / "tasksqueue-health-tests"


@pytest.mark.django_db
def test_live_and_ready_on_a_loaded_database(client) -> None:
    live, ready = client.get("/health/live"), client.get("/health/ready")

    assert (live.status_code, live.json()) == (200, {"status": "live"})
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "checks": {"database": "ok", "schema": "ok"}},
    )
    assert ready["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert client.post("/health/ready").status_code == 405


@pytest.fixture
def own_server(django_db_blocker) -> Iterator[Path]:
    """An embedded PostgreSQL with an empty database, behind a connection alias of its own, which
    the test may use (not the test database: a test case would refuse another alias); its data
    folder is returned, to stop it.

    The folder is not under pytest's own: as root, the server runs as another user, who must
    reach it, and a pytest session starting meanwhile closes pytest's folder to others again. The
    server package's runtime folder is shared by every test run.
    """
    RUNS.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(dir=RUNS))
    address = server.ensure_running(data_dir, "probe")
    connections.settings[ALIAS] = {
        **connections["default"].settings_dict,
        # Plain PostgreSQL: the embedded backend would point it at the project's own server.
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "probe",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": address.host,
        "PORT": address.port,
    }
    try:
        with django_db_blocker.unblock():
            yield data_dir
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        del connections.settings[ALIAS]
        server.stop(data_dir)
        shutil.rmtree(data_dir)
        (RUNS / f".{data_dir.name}.lock").unlink()


def probe(client) -> tuple[int, dict[str, object], int]:
    """(/health/ready's status and body, /health/live's status)"""
    ready = client.get("/health/ready")
    return ready.status_code, ready.json(), client.get("/health/live").status_code


def unavailable(**checks: str) -> dict[str, object]:
    return {"status": "unavailable", "checks": checks}


def test_ready_flips_with_the_schema_and_the_database_while_live_stays(own_server) -> None:
    client = Client()
    with override_settings(PROCRASTINATE_DATABASE_ALIAS=ALIAS):
        empty = probe(client)
        apply_schema()
        loaded = probe(client)
        server.stop(own_server)
        gone = probe(client)
        state_metrics.state_collector.cache_clear()
        with override_settings(TASKSQUEUE_METRICS_TOKEN=TOKEN):
            scrape = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    unavailable = "unavailable"
    assert empty == (
        503,
        {"status": unavailable, "checks": {"database": "ok", "schema": "fail"}},
        200,
    )
    assert loaded == (200, {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}, 200)
    assert gone == (
        503,
        {"status": unavailable, "checks": {"database": "fail", "schema": "skipped"}},
        200,
    )
    # The state exporter still answers, with the failing check and no number it cannot know.
    assert scrape.status_code == 200
    families = {
        family.name: {sample.labels["check"]: sample.value for sample in family.samples}
        for family in text_string_to_metric_families(scrape.content.decode())
        if family.name == "tasksqueue_status_check_failed"
    }
    assert families["tasksqueue_status_check_failed"]["database"] == 1
    assert b"tasksqueue_queue_jobs" not in scrape.content
