"""An embedded PostgreSQL of the tests' own, driven through manage.py as a user would."""

import subprocess
from pathlib import Path

import pytest

from tests.utils import processes


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("embedded") / "pg"
    yield path
    manage(path, "embeddeddb", "stop")


def manage(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return processes.manage(
        *args, env={"EMBEDDED_DB_DIR": str(data_dir)}, without=("DATABASE_URL",)
    )
