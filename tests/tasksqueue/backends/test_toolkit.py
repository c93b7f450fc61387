"""The test toolkit (`tqmanager`) with Django tasks: in memory, and in PostgreSQL with the real
worker (`tasksqueue_db`); both modes give the same rows and the same results."""

import pytest
from django.tasks import TaskResultStatus

from tests.tasksqueue.backends import django_tasks

MODULE = "tests.tasksqueue.backends.django_tasks"


class TestInMemoryQueue:
    async def test_enqueued_tasks_are_jobs_of_the_toolkit(self, tqmanager):
        result = await django_tasks.add.aenqueue(1, b=2)
        assert result.enqueued_at is not None
        [row] = tqmanager.pending_jobs
        assert str(row["id"]) == result.id
        assert row["task_name"] == f"{MODULE}.add"
        assert row["args"] == {
            "args": [1],
            "kwargs": {"b": 2},
            "enqueued_at": result.enqueued_at.isoformat(),
        }
        assert tqmanager.jobs_for(f"{MODULE}.add") == [row]
        assert (await django_tasks.add.aget_result(result.id)) == result

    async def test_running_them_stores_their_results(self, tqmanager):
        added = await django_tasks.add.aenqueue(2, b=3)
        doubled = await django_tasks.double.aenqueue(4)
        failed = await django_tasks.fail.aenqueue("in the toolkit")
        retried = await django_tasks.flaky.aenqueue()

        await tqmanager.run_pending_jobs()

        for result in (added, doubled, failed, retried):
            await result.arefresh()
        assert (added.status, added.return_value, added.attempts) == (
            TaskResultStatus.SUCCESSFUL,
            5,
            1,
        )
        assert doubled.status == TaskResultStatus.SUCCESSFUL
        # django-stubs types an async task's value as its coroutine; it is the awaited value.
        assert doubled.return_value == 8  # type: ignore[comparison-overlap]
        assert failed.status == TaskResultStatus.FAILED
        assert failed.errors[0].traceback.endswith("ValueError: in the toolkit\n")
        assert retried.return_value == {"attempt": 3, "workers": 3}
        assert len(retried.errors) == 2
        assert [row["status"] for row in tqmanager.finished_jobs] == [
            "succeeded",
            "succeeded",
            "failed",
            "succeeded",
        ]

    def test_sync_tests_enqueue_and_run_them_too(self, tqmanager):
        result = django_tasks.with_context.enqueue("sync")
        tqmanager.run_pending_jobs_sync()
        result.refresh()
        assert result.return_value == {"attempt": 1, "id": result.id, "value": "sync"}


@pytest.mark.tasksqueue_db
class TestDatabaseQueue(TestInMemoryQueue):
    pass
