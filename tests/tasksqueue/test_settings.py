"""Every setting declared once (taiga/tasksqueue/conf.py), validated by a system check with a
stable ID, settable from the environment by its own name, and reset where cached."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from taiga.tasksqueue.checks import check_settings
from taiga.tasksqueue.conf import TasksQueueSettings, tq_settings
from taiga.tasksqueue.manager import manager
from tests.utils.processes import ROOT, manage, run_python

DECLARED = {setting.name: setting for setting in TasksQueueSettings.declared()}


def test_every_setting_is_declared_once_with_its_default_and_meaning():
    assert set(DECLARED) == {
        "TASKS_MODULES_PATHS",
        "PROCRASTINATE_DATABASE_ALIAS",
        "TASKSQUEUE_MAX_ARGS_BYTES",
        "TASKSQUEUE_RESCUE_ENABLED",
        "TASKSQUEUE_STALLED_AFTER_SECONDS",
        "TASKSQUEUE_MAX_RESCUES",
        "TASKSQUEUE_HEARTBEAT_SECONDS",
        "TASKSQUEUE_RETENTION_ENABLED",
        "TASKSQUEUE_RETENTION_SUCCEEDED_DAYS",
        "TASKSQUEUE_RETENTION_FAILED_DAYS",
        "TASKSQUEUE_RETENTION_BATCH_SIZE",
        "TASKSQUEUE_WORKER_CONN_MAX_AGE",
        "TASKSQUEUE_WORKER_DATABASE_URL",
        "TASKSQUEUE_DASHBOARD_MASKED_ARGUMENTS",
        "TASKSQUEUE_DASHBOARD_SEARCH_WINDOW",
        "TASKSQUEUE_METRICS_PATH",
        "TASKSQUEUE_METRICS_TOKEN",
        "TASKSQUEUE_METRICS_CACHE_SECONDS",
        "TASKSQUEUE_TRACING",
    }
    assert all(setting.meaning for setting in DECLARED.values())


def test_a_setting_is_read_under_its_own_name_with_its_default_when_unset():
    assert tq_settings.TASKSQUEUE_RETENTION_BATCH_SIZE == 1000
    with override_settings(TASKSQUEUE_RETENTION_BATCH_SIZE=5):
        assert tq_settings.TASKSQUEUE_RETENTION_BATCH_SIZE == 5


def test_the_projects_settings_pass():
    assert check_settings() == []


@pytest.mark.parametrize(
    ("name", "value", "wrong"),
    [
        ("TASKSQUEUE_MAX_ARGS_BYTES", "1MB", "must be a whole number, got '1MB'"),
        ("TASKSQUEUE_RESCUE_ENABLED", "no", "must be True or False, got 'no'"),
        ("TASKSQUEUE_MAX_RESCUES", True, "must be a whole number, got True"),
        ("TASKSQUEUE_STALLED_AFTER_SECONDS", "60", "must be a number, got '60'"),
        ("PROCRASTINATE_DATABASE_ALIAS", 0, "must be a string, got 0"),
        (
            "TASKSQUEUE_DASHBOARD_MASKED_ARGUMENTS",
            "password",
            "must be a list of names, got 'password'",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_error_e005(name, value, wrong):
    with override_settings(**{name: value}):
        [error] = check_settings()

    assert error.id == "tasksqueue.E005"
    assert error.msg == f"{name} {wrong}."
    assert error.hint == (
        f"It sets {DECLARED[name].meaning}; the default is {DECLARED[name].default!r}."
    )


@pytest.mark.parametrize(
    ("name", "value", "bound"),
    [
        ("TASKSQUEUE_RETENTION_BATCH_SIZE", 0, "at least 1"),
        ("TASKSQUEUE_MAX_ARGS_BYTES", -5, "at least 1"),
        ("TASKSQUEUE_MAX_RESCUES", -1, "0 or more"),
        ("TASKSQUEUE_RETENTION_FAILED_DAYS", -0.5, "0 or more"),
        ("TASKSQUEUE_STALLED_AFTER_SECONDS", 0, "more than 0"),
        ("TASKSQUEUE_METRICS_PATH", "/metrics", "a path like 'metrics'"),
        ("TASKSQUEUE_METRICS_CACHE_SECONDS", -1, "0 or more"),
    ],
)
def test_a_value_out_of_its_range_is_error_e006(name, value, bound):
    with override_settings(**{name: value}):
        errors = check_settings()

    assert [error.id for error in errors] == ["tasksqueue.E006"]
    assert errors[0].msg == f"{name} must be {bound}, got {value!r}."


@override_settings(PROCRASTINATE_DATABASE_ALIAS="queue")
def test_a_database_alias_missing_from_databases_is_error_e007():
    [error] = check_settings()

    assert error.id == "tasksqueue.E007"
    assert error.msg == (
        "PROCRASTINATE_DATABASE_ALIAS ('queue') names no database of DATABASES ('default')."
    )


@override_settings(TASKSQUEUE_RETENTION_BATCH_SIZE=0)
def test_the_worker_refuses_to_start_on_an_invalid_setting():
    with pytest.raises(CommandError) as raised:
        call_command("tasksqueue", "worker", "--one-shot")

    assert str(raised.value) == (
        "TASKSQUEUE_RETENTION_BATCH_SIZE must be at least 1, got 0. It sets rows the retention "
        "job deletes per statement; the default is 1000."
    )
    assert raised.value.returncode == 1


def test_manage_py_check_reports_an_invalid_value_from_the_environment_by_id():
    result = manage("check", env={"TASKSQUEUE_RETENTION_BATCH_SIZE": "0"})

    assert result.returncode == 1
    assert (
        "?: (tasksqueue.E006) TASKSQUEUE_RETENTION_BATCH_SIZE must be at least 1, got 0."
    ) in result.stderr


def test_settings_come_from_the_environment_by_their_names_and_module_paths_are_stripped():
    code = (
        "from django.conf import settings as s; "
        "print(s.TASKSQUEUE_STALLED_AFTER_SECONDS, s.TASKSQUEUE_RESCUE_ENABLED, "
        "sorted(s.TASKS_MODULES_PATHS), s.TASKSQUEUE_DASHBOARD_MASKED_ARGUMENTS)"
    )
    listed = " tests.tasksqueue.sample_tasks ,tests.tasksqueue.bad_input_tasks "
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        env={
            "TASKSQUEUE_STALLED_AFTER_SECONDS": "120.5",
            "TASKSQUEUE_RESCUE_ENABLED": "false",
            "TASKS_MODULES_PATHS": listed,
            "TASKSQUEUE_DASHBOARD_MASKED_ARGUMENTS": "pin, otp,,",
        },
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "120.5 False ['taiga.emails.tasks', 'taiga.users.tasks', "
        "'tests.tasksqueue.bad_input_tasks', 'tests.tasksqueue.sample_tasks'] ['pin', 'otp']\n"
    )


def test_the_job_manager_is_built_once_and_again_when_the_database_setting_changes():
    built = manager.job_manager
    assert manager.job_manager is built

    with override_settings(PROCRASTINATE_DATABASE_ALIAS="queue"):
        assert manager.job_manager.connector.alias == "queue"  # type: ignore[attr-defined]

    assert manager.job_manager.connector.alias == "default"  # type: ignore[attr-defined]


def test_a_settings_module_built_on_the_projects_can_change_its_databases(tmp_path):
    (tmp_path / "derived_settings.py").write_text(
        "from taiga.conf.settings import *  # noqa: F403\n"
        'DATABASES = {"default": {**DATABASES["default"], "NAME": "derived"}}  # noqa: F405\n'
    )
    probe = run_python(
        "-c",
        "import django; django.setup(); from django.db import connections; "
        "print(connections['default'].settings_dict['NAME'])",
        env={"DJANGO_SETTINGS_MODULE": "derived_settings", "PYTHONPATH": f"{tmp_path}:{ROOT}"},
    )
    assert (probe.returncode, probe.stdout) == (0, "derived\n"), probe.stderr
