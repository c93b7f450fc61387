"""`python -m taiga` is `./manage.py`; `check --deploy` refuses unsafe production settings."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from taiga.base.checks import check_production_settings
from taiga.conf.settings import DEVELOPMENT_SECRET_KEY
from tests.utils.processes import manage, run_python


@pytest.mark.parametrize("args", [("help", "embeddeddb"), ("check",), ("nosuchcommand",)])
def test_python_m_taiga_behaves_exactly_like_manage_py(args):
    via_module = run_python("-m", "taiga", *args)
    via_manage = manage(*args)

    assert (via_module.returncode, via_module.stdout, via_module.stderr) == (
        via_manage.returncode,
        via_manage.stdout,
        via_manage.stderr,
    )


def test_python_m_taiga_reports_failures_with_a_non_zero_exit():
    result = run_python("-m", "taiga", "nosuchcommand")

    assert result.returncode == 1
    assert "Unknown command: 'nosuchcommand'" in result.stderr


@override_settings(SECRET_KEY=DEVELOPMENT_SECRET_KEY, DEBUG=True)
def test_deploy_check_refuses_the_development_secret_and_warns_about_debug():
    ids = [message.id for message in check_production_settings()]

    assert ids == ["taiga.E001", "taiga.W001"]
    with pytest.raises(SystemCheckError, match=r"\(taiga\.E001\) SECRET_KEY is the built-in"):
        call_command("check", deploy=True)


@pytest.mark.parametrize("key", ["change-me", "django-insecure-" + "abcdefgh" * 8, "ab" * 40])
def test_deploy_check_refuses_a_weak_secret(key):
    with override_settings(SECRET_KEY=key, DEBUG=False):
        [error] = check_production_settings()

    assert error.id == "taiga.E001"
    assert error.msg == (
        "SECRET_KEY is weak (under 50 characters, few distinct ones, or 'django-insecure-')."
    )


@override_settings(SECRET_KEY="Zq3-" + "a1b2c3d4e5" * 5, DEBUG=False)
def test_deploy_check_accepts_a_real_secret_with_debug_off():
    assert check_production_settings() == []


def test_ordinary_checks_do_not_nag_about_deployment_settings():
    result = manage("check", env={"SECRET_KEY": DEVELOPMENT_SECRET_KEY})

    assert (result.returncode, result.stdout) == (
        0,
        "System check identified no issues (0 silenced).\n",
    )
