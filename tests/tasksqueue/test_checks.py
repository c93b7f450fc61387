"""System checks of the tasks queue, with their stable IDs."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from taiga.tasksqueue.checks import check_settings, check_task_modules
from tests.utils.processes import manage


def test_the_project_passes_its_checks():
    assert check_task_modules() == []


@override_settings(TASKS_MODULES_PATHS={"taiga.emails.tasks", "taiga.nosuchmodule"})
def test_a_listed_module_that_cannot_be_imported_is_error_e001():
    [error] = check_task_modules()

    assert error.id == "tasksqueue.E001"
    assert error.msg == (
        "Module 'taiga.nosuchmodule' listed in TASKS_MODULES_PATHS cannot be imported: "
        "ModuleNotFoundError: No module named 'taiga.nosuchmodule'"
    )
    assert error.hint == "Fix the module, or remove it from TASKS_MODULES_PATHS."


@pytest.mark.parametrize("value", ["taiga.emails.tasks", ["taiga.emails.tasks", 3]])
def test_a_setting_that_is_not_a_collection_of_module_paths_is_error_e003(value):
    with override_settings(TASKS_MODULES_PATHS=value):
        [error] = check_settings()
        assert check_task_modules() == []  # nothing listed is imported while it is wrong

    assert error.id == "tasksqueue.E003"
    assert error.msg == f"TASKS_MODULES_PATHS must be a set of dotted module paths, got {value!r}."


@override_settings(TASKS_MODULES_PATHS={"taiga.nosuchmodule"})
def test_manage_py_check_fails_on_e001():
    with pytest.raises(SystemCheckError, match=r"\(tasksqueue\.E001\) Module 'taiga.nosuchmodule'"):
        call_command("check")


def test_a_broken_module_stops_commands_with_the_module_and_setting_named():
    result = manage("check", env={"TASKS_MODULES_PATHS": "taiga.emails.nosuch"})

    assert result.returncode == 1
    assert (
        "?: (tasksqueue.E001) Module 'taiga.emails.nosuch' listed in TASKS_MODULES_PATHS cannot "
        "be imported: ModuleNotFoundError: No module named 'taiga.emails.nosuch'\n"
        "\tHINT: Fix the module, or remove it from TASKS_MODULES_PATHS."
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_an_app_whose_tasks_module_fails_is_error_e002():
    result = manage("check", env={"DJANGO_SETTINGS_MODULE": "tests.brokenapp.settings"})

    assert result.returncode == 1
    assert (
        "?: (tasksqueue.E002) The tasks module 'tests.brokenapp.tasks' of app 'brokenapp' cannot "
        "be imported: RuntimeError: configuration missing"
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_heartbeat_fits_the_stalled_timeout():
    assert check_settings() == []


@pytest.mark.parametrize(("heartbeat", "stalled_after"), [(10, 20), (0, 60), (-1, 60)])
def test_a_heartbeat_too_slow_for_the_stalled_timeout_is_error_e004(heartbeat, stalled_after):
    with override_settings(
        TASKSQUEUE_HEARTBEAT_SECONDS=heartbeat, TASKSQUEUE_STALLED_AFTER_SECONDS=stalled_after
    ):
        [error] = check_settings()

    assert error.id == "tasksqueue.E004"
    assert error.msg == (
        f"TASKSQUEUE_HEARTBEAT_SECONDS ({heartbeat:g}) must be positive and at most a third of "
        f"TASKSQUEUE_STALLED_AFTER_SECONDS ({stalled_after:g})."
    )
