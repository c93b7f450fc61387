"""Connection URLs that list several hosts, as libpq reads them, for web processes and workers: a
failover to a standby is followed by connecting to the next host, with no configuration change."""

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from taiga.conf.database import database_from_url, url_problem
from tests.tasksqueue.sample_tasks import add
from tests.utils.processes import closed_port, database_url, manage, tcp_server_only


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("postgres://u@db1:5432,db2:5433/app", "db1,db2", "5432,5433"),
        # libpq: a host without a port is on the default one (django-environ gave it the other's).
        ("postgres://u@db1:5433,db2/app", "db1,db2", "5433,"),
        ("postgres://u@db1,db2:5433/app", "db1,db2", ",5433"),
        ("postgres://u@db1,db2/app", "db1,db2", ""),
        ("postgresql://u@[fd00::1]:5432,db2:5432/app", "fd00::1,db2", "5432,5432"),
        ("pgsql://u:pa,ss@db1,db2/app", "db1,db2", ""),
        # One host: django-environ's reading, unchanged.
        ("postgres://u@db1:5433/app", "db1", 5433),
    ],
)
def test_the_hosts_and_ports_of_a_url_are_those_libpq_reads(url, host, port):
    assert url_problem(url) is None
    config = database_from_url(url)

    assert (config["HOST"], config["PORT"], config["NAME"]) == (host, port, "app")


def test_query_parameters_go_to_options_and_the_pooler_mark_is_a_boolean():
    config = database_from_url(
        "postgres://u:p@db1:5432,db2:5432/app?target_session_attrs=read-write&connect_timeout=5"
        "&disable_server_side_cursors=false"
    )

    assert config["OPTIONS"] == {"target_session_attrs": "read-write", "connect_timeout": 5}
    assert (config["USER"], config["PASSWORD"]) == ("u", "p")
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert (
        database_from_url("postgres://u@h/app?disable_server_side_cursors=true")[
            "DISABLE_SERVER_SIDE_CURSORS"
        ]
        is True
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgres://u@db1:port,db2/app", "port 'port' is not a number"),
        ("postgres://u@db1,db2/", "it names no database"),
        ("mysql://u@db1,db2/app", "scheme 'mysql' is not one of postgres, postgresql, pgsql"),
    ],
)
def test_a_malformed_multi_host_url_is_named(url, problem):
    assert url_problem(url) == problem


def test_a_bad_multi_host_url_stops_the_process_in_one_line():
    result = manage("check", env={"DATABASE_URL": "postgres://u@db1:x,db2/app"})

    assert result.returncode == 1
    assert result.stderr.startswith(
        "DATABASE_URL is not a usable PostgreSQL URL (port 'x' is not a number); "
    )


def first_host_down() -> str:
    """The test database behind a first host where nothing listens, writes required."""
    tcp_server_only()
    direct = database_url()
    server = direct.split("@", 1)[1].split("/", 1)[0]
    both = f"127.0.0.1:{closed_port()},{server}"
    return direct.replace(server, both) + "?target_session_attrs=read-write&connect_timeout=5"


SHOW_PORT = (
    "from django.db import connection\n"
    "connection.ensure_connection()\n"
    "print(connection.connection.info.port)\n"
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("own_url", [False, True], ids=["worker-on-DATABASE_URL", "worker-url"])
def test_web_and_worker_connect_to_the_second_host_when_the_first_is_down(own_url):
    url = first_host_down()
    server_port = database_url().split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]

    web = manage("shell", "-v", "0", "-c", SHOW_PORT, env={"DATABASE_URL": url})
    assert (web.returncode, web.stdout.strip()) == (0, server_port), web.stderr

    job_id = add.defer_sync(2, 3)
    worker = manage(
        "tasksqueue",
        "worker",
        "--one-shot",
        env={
            "DATABASE_URL": url,
            "TASKSQUEUE_WORKER_DATABASE_URL": url if own_url else "",
            "TASKS_MODULES_PATHS": "tests.tasksqueue.sample_tasks",
        },
    )
    assert worker.returncode == 0, worker.stderr
    assert ProcrastinateJob.objects.get(id=job_id).status == "succeeded"
