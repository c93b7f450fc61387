"""scripts/find-python, which `make` uses to pick the interpreter for .venv."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "find-python"


def find(python: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"} | ({"PYTHON": python} if python else {})
    return subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_python_variable_wins_when_it_is_a_python_3_12_or_newer():
    result = find(sys.executable)

    assert (result.returncode, result.stdout) == (0, f"{sys.executable}\n")


def test_python_variable_that_is_not_a_working_python_is_refused_with_the_fix(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)

    result = find(str(fake))

    assert result.returncode == 1
    assert result.stderr == f"PYTHON={fake} is not a working Python >= 3.12\n"
