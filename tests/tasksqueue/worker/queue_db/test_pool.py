"""The worker's pool: autocommit connections that prepare the statements they run again and
again, unless the database's OPTIONS turn preparing off (a pooler that cannot keep them)."""

import pytest
from django.db import connections

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.worker.queue_db.pool import worker_pool

pytestmark = pytest.mark.django_db(transaction=True)

_REPEATED = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"
_PREPARED = "SELECT statement FROM pg_prepared_statements"


async def _prepared_after_repeats() -> tuple[bool, list[str]]:
    async with worker_pool(1) as pool, pool.connection() as connection:
        for _ in range(6):
            await connection.execute(_REPEATED)
        cursor = await connection.execute(_PREPARED)
        return connection.autocommit, [row[0] for row in await cursor.fetchall()]


async def test_the_worker_prepares_a_statement_it_runs_again_and_again():
    autocommit, prepared = await _prepared_after_repeats()

    assert autocommit is True
    assert len(prepared) == 1
    assert "procrastinate_jobs WHERE status = 'todo'" in prepared[0]


async def test_prepare_threshold_none_in_the_database_options_turns_preparing_off(monkeypatch):
    options = dict(
        connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].settings_dict.get("OPTIONS", {})
    )
    options["prepare_threshold"] = None
    monkeypatch.setitem(
        connections[tq_settings.PROCRASTINATE_DATABASE_ALIAS].settings_dict, "OPTIONS", options
    )

    autocommit, prepared = await _prepared_after_repeats()

    assert autocommit is True
    assert prepared == []
