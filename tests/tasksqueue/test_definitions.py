"""Task definitions that cannot work are refused when the module is imported, naming the task."""

import re
from typing import Any

import pytest

from taiga.tasksqueue import InvalidTaskDefinition
from taiga.tasksqueue.manager import manager as tqmanager


def registered(name: str) -> bool:
    return name in tqmanager.app.tasks or name in tqmanager.tasks


def test_an_invalid_cron_expression_is_an_error_naming_the_task():
    with pytest.raises(InvalidTaskDefinition) as excinfo:

        @tqmanager.periodic(cron="every day")
        @tqmanager.task(name="tests.bad_cron")
        def bad_cron(timestamp: int) -> None:
            pass

    assert str(excinfo.value) == (
        "Task 'tests.bad_cron': invalid cron expression 'every day' "
        "(5 fields, or 6 with seconds last, e.g. '0 * * * *')."
    )
    assert ("tests.bad_cron", "") not in tqmanager.app.periodic_registry.periodic_tasks


def test_a_periodic_task_must_take_the_timestamp():
    with pytest.raises(InvalidTaskDefinition, match="add a `timestamp: int` parameter"):

        @tqmanager.periodic(cron="* * * * *")
        @tqmanager.task(name="tests.no_timestamp")
        def no_timestamp() -> None:
            pass


def test_periodic_must_be_stacked_above_task():
    with pytest.raises(InvalidTaskDefinition, match=r"must be stacked above @manager\.task"):

        @tqmanager.periodic(cron="* * * * *")  # type: ignore[arg-type]
        def plain(timestamp: int) -> None:
            pass


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f(*items): pass", "*items is not supported, jobs store named arguments"),
        ("def f(a, /): pass", "positional-only parameter 'a' is not supported"),
    ],
)
def test_signatures_a_worker_cannot_call_are_refused_before_registration(source, problem):
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    function = namespace["f"]
    function.__module__ = "tests.generated"

    with pytest.raises(InvalidTaskDefinition, match=re.escape(problem)):
        tqmanager.task(function)
    assert not registered("tests.generated.f")


def test_pass_context_needs_a_parameter_for_the_context():
    with pytest.raises(InvalidTaskDefinition, match="add a first parameter"):

        @tqmanager.task(pass_context=True, name="tests.no_context_param")
        def no_context_param() -> None:
            pass

    assert not registered("tests.no_context_param")


def test_the_sample_apps_register_their_periodic_cleanups_at_midnight():
    schedules = {
        (periodic.task.name, periodic.cron)
        for periodic in tqmanager.app.periodic_registry.periodic_tasks.values()
    }
    assert ("taiga.users.tasks.clean_expired_tokens", "0 0 * * *") in schedules
    assert ("taiga.users.tasks.clean_unverified_users", "0 0 * * *") in schedules
