"""`check --deploy` refuses unsafe production settings, and the image's entrypoint stops on them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from taiga.base.checks import check_production_settings
from taiga.conf.settings import DEVELOPMENT_SECRET_KEY
from tests.utils.processes import ROOT, TIMEOUT, manage

STRONG_KEY = "Zq3-" + "a1b2c3d4e5" * 5
SAFE = {"SECRET_KEY": STRONG_KEY, "DEBUG": False, "ALLOWED_HOSTS": ["tasks.example.com"]}


@override_settings(SECRET_KEY=DEVELOPMENT_SECRET_KEY, DEBUG=True, ALLOWED_HOSTS=["*"])
def test_deploy_check_gives_each_unsafe_setting_its_own_error():
    ids = [message.id for message in check_production_settings()]

    assert ids == ["taiga.E001", "taiga.E002", "taiga.E003"]
    with pytest.raises(SystemCheckError, match=r"\(taiga\.E001\) SECRET_KEY is the built-in"):
        call_command("check", deploy=True)


@pytest.mark.parametrize("key", ["change-me", "django-insecure-" + "abcdefgh" * 8, "ab" * 40])
def test_deploy_check_refuses_a_weak_secret(key):
    with override_settings(**{**SAFE, "SECRET_KEY": key}):
        [error] = check_production_settings()

    assert error.id == "taiga.E001"
    assert error.msg == (
        "SECRET_KEY is weak (under 50 characters, few distinct ones, or 'django-insecure-')."
    )


@override_settings(**{**SAFE, "DEBUG": True})
def test_deploy_check_refuses_debug():
    assert [error.id for error in check_production_settings()] == ["taiga.E002"]


@pytest.mark.parametrize("hosts", [["*"], ["tasks.example.com", "*"]])
def test_deploy_check_refuses_a_wildcard_in_allowed_hosts(hosts):
    with override_settings(**{**SAFE, "ALLOWED_HOSTS": hosts}):
        assert [error.id for error in check_production_settings()] == ["taiga.E003"]


@override_settings(**{**SAFE, "ALLOWED_HOSTS": [".example.com", "localhost"]})
def test_deploy_check_accepts_a_real_secret_debug_off_and_named_hosts():
    assert check_production_settings() == []


def test_ordinary_checks_do_not_nag_about_deployment_settings():
    result = manage("check", env={"SECRET_KEY": DEVELOPMENT_SECRET_KEY, "DEBUG": "true"})

    assert (result.returncode, result.stdout) == (
        0,
        "System check identified no issues (0 silenced).\n",
    )


def run_entrypoint(**env: str) -> subprocess.CompletedProcess[str]:
    """Run the image's entrypoint as the container would, with `echo started` as its command and
    the compose file's environment, changed by `env`."""
    environment = {
        **os.environ,
        # The entrypoint calls `python`: this interpreter, as the image's venv is first on PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": "postgres://taiga:taiga@127.0.0.1:5432/taiga",
        "SECRET_KEY": STRONG_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1]",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        **env,
    }
    return subprocess.run(
        ["sh", "docker/entrypoint.sh", "echo", "started"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "error_id"), [({"DEBUG": "true"}, "taiga.E002"), ({"ALLOWED_HOSTS": "*"}, "taiga.E003")]
)
def test_the_image_entrypoint_refuses_to_start_on_an_unsafe_setting(env, error_id):
    result = run_entrypoint(**env)

    assert result.returncode == 1
    assert f"({error_id})" in result.stderr
    assert "started" not in result.stdout


def test_the_image_entrypoint_starts_the_command_with_the_compose_settings():
    result = run_entrypoint()

    assert (result.returncode, result.stdout) == (0, "started\n"), result.stderr
