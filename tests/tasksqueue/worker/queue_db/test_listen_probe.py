"""The worker's start-time LISTEN probe: heard on a direct connection, not through PgBouncer in
transaction mode, and undecided (no warning) when the listener's database cannot be reached."""

import pytest
from django.test import override_settings

from taiga.tasksqueue.worker.queue_db.listen_probe import listen_is_heard
from taiga.tasksqueue.worker.queue_db.pool import worker_pool
from tests.utils.pgbouncer import pgbouncer, url_through
from tests.utils.processes import closed_port

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_direct_connection_hears_the_probe():
    async with worker_pool(1) as pool:
        assert await listen_is_heard(pool) is True


@pytest.mark.parametrize(("pool_mode", "heard"), [("transaction", False), ("session", True)])
async def test_through_pgbouncer_the_probe_is_heard_in_session_mode_only(pool_mode, heard):
    with (
        pgbouncer(pool_mode, pool_size=2) as port,
        override_settings(TASKSQUEUE_WORKER_DATABASE_URL=url_through(port)),
    ):
        async with worker_pool(1) as pool:
            assert await listen_is_heard(pool) is heard


async def test_a_listener_that_cannot_connect_decides_nothing():
    async with worker_pool(1) as pool:
        with override_settings(TASKSQUEUE_WORKER_DATABASE_URL=url_through(closed_port())):
            assert await listen_is_heard(pool) is None
