"""The image's web server, checked without a container engine: the Dockerfile's CMD run as a
process on 127.0.0.1, the compose file's web command, port and healthcheck."""

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tests.utils.processes import ROOT, TIMEOUT, closed_port, database_url
from tests.utils.waiting import wait_until

DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker" / "docker-compose.yml").read_text()
HOST = "tasks.example.com"


def image_command() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert match is not None, "the Dockerfile has no CMD in exec form"
    return list(json.loads(match.group(1)))


def one_line(text: str) -> str:
    return " ".join(text.split())


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def server(tmp_path):
    """The image's CMD on a free port of 127.0.0.1, on the test database, serving only HOST (as a
    deploy that names its host in ALLOWED_HOSTS would); yields the port."""
    port = closed_port()
    command = image_command()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    env = {
        **os.environ,
        # The image's venv is first on PATH; here, this interpreter's.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": database_url(),
        "ALLOWED_HOSTS": HOST,
    }
    log = tmp_path / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    try:
        wait_until(lambda: listening(port), "the server to listen", details=log.read_text)
        yield port
    finally:
        process.terminate()
        process.wait(TIMEOUT)


def request(port, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Host": HOST, "Content-Type": "application/json"}
    method = "GET" if body is None else "POST"
    url = f"http://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(
        urllib.request.Request(url, data=data, headers=headers, method=method), timeout=TIMEOUT
    ) as response:
        return response.status, response.read()


def test_the_image_serves_with_uvicorn():
    assert image_command()[:2] == ["uvicorn", "taiga.asgi:application"]


@pytest.mark.django_db(transaction=True)
def test_the_image_command_serves_the_async_signup_view_and_the_admin(server):
    status, body = request(server, "/users/signup/", {"username": "ann", "email": "a@b.co"})
    assert status == 201
    assert "job_id" in json.loads(body)
    assert User.objects.get().username == "ann"

    assert request(server, "/admin/login/")[0] == 200


def test_the_compose_file_serves_with_the_image_command():
    assert f"&& exec {' '.join(image_command())}" in one_line(COMPOSE)
    assert "runserver" not in COMPOSE


def test_the_compose_file_publishes_the_web_port_on_the_loopback_only():
    blocks = re.findall(r"^\s*ports:\n((?:\s*- .*\n)+)", COMPOSE, re.MULTILINE)
    published = [line.strip(' -"') for block in blocks for line in block.splitlines()]

    assert published == ["127.0.0.1:8000:8000"]


def test_the_web_healthcheck_passes_when_allowed_hosts_names_only_the_public_host(server):
    start = COMPOSE.index("import os, urllib.request;")
    end = COMPOSE.index("timeout=5)", start) + len("timeout=5)")
    healthcheck = one_line(COMPOSE[start:end]).replace(":8000/", f":{server}/")

    result = subprocess.run(
        [sys.executable, "-c", healthcheck],
        env={**os.environ, "ALLOWED_HOSTS": f".{HOST},localhost"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )

    assert result.returncode == 0, result.stderr
