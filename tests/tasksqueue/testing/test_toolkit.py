"""The tqmanager toolkit: every property, running jobs, failures, jobs deferring jobs, schedules.

`TestInMemoryQueue` holds the contract; `TestDatabaseQueue` runs the same tests with jobs in
PostgreSQL and the project's real worker (`tasksqueue_db`), so both modes must agree row for row.
"""

import datetime
from typing import Any

import pytest
from procrastinate.periodic import PeriodicTask

from taiga.tasksqueue import ArgumentNotSerializable
from taiga.tasksqueue.manager import manager
from tests.utils.tasksqueue import JobRow

MODULE = __name__
RAN: list[str] = []


@manager.task(queue="toolkit", priority=3)
def record(word: str) -> str:
    RAN.append(word)
    return word


@manager.task
async def spawn(word: str) -> None:
    RAN.append(f"spawn {word}")
    await record.defer(word)


@manager.task
def spawn_sync(word: str) -> None:
    RAN.append(f"spawn_sync {word}")
    record.defer_sync(word)


@manager.task
def explode() -> None:
    raise RuntimeError("boom")


@manager.task(retry=2)
def explode_every_time() -> None:
    raise RuntimeError("boom")


@manager.task
def count_schedules() -> int:
    RAN.append(f"schedules {len(manager.app.periodic_registry.periodic_tasks)}")
    return 0


@manager.task
def tick(timestamp: int) -> None:
    RAN.append("tick")


@pytest.fixture(autouse=True)
def _forget_runs():
    RAN.clear()


def row(
    job_id: int,
    task: str,
    args: dict[str, Any],
    status: str = "todo",
    attempts: int = 0,
    queue: str = "default",
    priority: int = 0,
) -> JobRow:
    return {
        "id": job_id,
        "queue_name": queue,
        "task_name": f"{MODULE}.{task}",
        "priority": priority,
        "lock": None,
        "queueing_lock": None,
        "args": args,
        "status": status,
        "scheduled_at": None,
        "attempts": attempts,
        "abort_requested": False,
        "worker_id": None,
    }


def record_row(job_id: int, word: str, status: str = "todo", attempts: int = 0) -> JobRow:
    return row(job_id, "record", {"word": word}, status, attempts, queue="toolkit", priority=3)


class TestInMemoryQueue:
    async def test_jobs_are_the_rows_of_the_deferred_jobs_by_id(self, tqmanager):
        assert tqmanager.jobs == {}

        await record.defer("one")
        await record.configure(lock="L", queueing_lock="Q").defer("two")
        await record.defer_many([("three",), {"word": "four"}])

        assert tqmanager.jobs == {
            1: record_row(1, "one"),
            2: {**record_row(2, "two"), "lock": "L", "queueing_lock": "Q"},
            3: record_row(3, "three"),
            4: record_row(4, "four"),
        }

    async def test_pending_jobs_run_and_become_succeeded_and_finished(self, tqmanager):
        await record.defer("one")
        await record.defer("two")
        assert tqmanager.pending_jobs == [record_row(1, "one"), record_row(2, "two")]
        assert tqmanager.finished_jobs == tqmanager.succeeded_jobs == []

        await tqmanager.run_pending_jobs()

        assert RAN == ["one", "two"]
        assert tqmanager.pending_jobs == []
        done = [record_row(1, "one", "succeeded", 1), record_row(2, "two", "succeeded", 1)]
        assert tqmanager.succeeded_jobs == tqmanager.finished_jobs == done
        assert tqmanager.failed_jobs == []

    async def test_a_failing_task_fails_its_job_without_raising(self, tqmanager):
        await explode.defer()
        await record.defer("after")

        await tqmanager.run_pending_jobs()

        assert tqmanager.failed_jobs == [row(1, "explode", {}, "failed", 1)]
        assert tqmanager.succeeded_jobs == [record_row(2, "after", "succeeded", 1)]
        assert tqmanager.finished_jobs == tqmanager.failed_jobs + tqmanager.succeeded_jobs

    async def test_retries_without_delay_run_in_the_same_pass(self, tqmanager):
        await explode_every_time.defer()

        await tqmanager.run_pending_jobs()

        [failed] = tqmanager.failed_jobs
        assert (failed["status"], failed["attempts"]) == ("failed", 3)
        assert failed["scheduled_at"] is not None  # set by the retries

    async def test_jobs_deferred_by_a_running_job_run_in_the_same_pass(self, tqmanager):
        await spawn.defer("child")

        await tqmanager.run_pending_jobs()

        assert RAN == ["spawn child", "child"]
        assert tqmanager.jobs == {
            1: row(1, "spawn", {"word": "child"}, "succeeded", 1),
            2: record_row(2, "child", "succeeded", 1),
        }

    async def test_scheduled_jobs_wait_for_their_time(self, tqmanager):
        await record.configure(schedule_in=datetime.timedelta(hours=1)).defer("later")
        await record.defer("now")

        await tqmanager.run_pending_jobs()

        assert RAN == ["now"]
        [scheduled] = tqmanager.scheduled_jobs
        assert (scheduled["id"], scheduled["status"], scheduled["attempts"]) == (1, "todo", 0)
        assert tqmanager.pending_jobs == [scheduled]

    async def test_cancelled_jobs_are_listed_and_not_run(self, tqmanager):
        job_id = await record.defer("never")
        await manager.app.job_manager.cancel_job_by_id_async(job_id)

        await tqmanager.run_pending_jobs()

        assert RAN == []
        assert tqmanager.cancelled_jobs == [record_row(job_id, "never", "cancelled")]
        assert tqmanager.pending_jobs == tqmanager.finished_jobs == []

    async def test_jobs_for_filters_by_task_or_task_name(self, tqmanager):
        await record.defer("one")
        await explode.defer()

        assert tqmanager.jobs_for(record) == [record_row(1, "one")]
        assert tqmanager.jobs_for(f"{MODULE}.explode") == [row(2, "explode", {})]
        assert tqmanager.jobs_for(spawn) == []

    async def test_reset_forgets_every_job_and_ids_start_again(self, tqmanager):
        await record.defer("one")
        await tqmanager.run_pending_jobs()

        tqmanager.reset()

        assert tqmanager.jobs == {}
        await record.defer("two")
        assert tqmanager.jobs == {1: record_row(1, "two")}

    async def test_arguments_are_encoded_as_in_production(self, tqmanager):
        when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
        await record.defer(when)  # type: ignore[arg-type]
        with pytest.raises(ArgumentNotSerializable, match="argument 'word' \\(object\\)"):
            await record.defer(object())  # type: ignore[arg-type]

        assert tqmanager.jobs == {1: record_row(1, "2026-01-02T03:04:05Z")}

    async def test_periodic_schedules_are_paused_while_jobs_run(self, tqmanager, monkeypatch):
        every_minute: PeriodicTask[Any, Any, Any] = PeriodicTask(
            task=tick.procrastinate_task, cron="* * * * *", periodic_id="", configure_kwargs={}
        )
        schedules = manager.app.periodic_registry.periodic_tasks
        monkeypatch.setitem(schedules, (tick.name, ""), every_minute)
        await count_schedules.defer()

        await tqmanager.run_pending_jobs()

        assert RAN == ["schedules 0"]
        assert tqmanager.jobs_for(tick) == []
        assert schedules[tick.name, ""] is every_minute

    def test_run_pending_jobs_sync_runs_them_from_a_sync_test(self, tqmanager):
        record.defer_sync("sync")
        spawn.defer_sync("child")
        spawn_sync.defer_sync("sync child")

        tqmanager.run_pending_jobs_sync()

        assert RAN == ["sync", "spawn child", "child", "spawn_sync sync child", "sync child"]
        assert [job["status"] for job in tqmanager.jobs.values()] == ["succeeded"] * 5


@pytest.mark.tasksqueue_db
class TestDatabaseQueue(TestInMemoryQueue):
    """The same contract with jobs in PostgreSQL, run by the project's worker in one-shot mode."""
