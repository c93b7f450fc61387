"""What every subcommand does when it cannot work: one line on stderr naming the cause and the
fix, a non-zero exit code, no traceback. And the command's help, from both entry points."""

import subprocess
import sys

import pytest

from tests.utils.processes import ROOT, TIMEOUT, closed_port, manage

FIX = "check DATABASE_URL and that PostgreSQL is running"


def unreachable() -> tuple[dict[str, str], str]:
    port = closed_port()
    cause = (
        "Cannot connect to database 'default' (connection failed: connection to server at "
        f'"127.0.0.1", port {port} failed: Connection refused)'
    )
    return {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/taiga"}, cause


def test_status_with_the_database_unreachable_says_so_and_exits_1():
    env, cause = unreachable()

    result = manage("tasksqueue", "status", env=env)

    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert result.stderr == f"CommandError: Unhealthy: database: {cause}; fix: {FIX}\n"
    assert [lines[0], lines[1], *lines[3:5], lines[6]] == [
        f"database: FAIL - {cause}; fix: {FIX}",
        "schema: SKIPPED - needs the database",
        "queues: SKIPPED - needs the database",
        "workers: SKIPPED - needs the database",
        "orphans: SKIPPED - needs the database",
    ]
    # Neither needs the database: the task registry and the cron schedules are still reported.
    assert lines[2].startswith("tasks: OK - ")
    assert lines[5].startswith("periodic: OK - ")


@pytest.mark.parametrize(
    "args", [("init",), ("init", "--info"), ("worker",), ("shell",), ("status", "--json")]
)
def test_every_subcommand_with_the_database_unreachable_fails_in_one_line(args):
    env, cause = unreachable()

    result = manage("tasksqueue", *args, env=env)

    assert result.returncode == 1
    if args[0] == "status":
        assert result.stderr == f"CommandError: Unhealthy: database: {cause}; fix: {FIX}\n"
    else:
        assert (result.stdout, result.stderr) == ("", f"CommandError: {cause}; {FIX}\n")


@pytest.mark.parametrize(
    ("args", "prog", "error"),
    [
        (
            ["worker", "--concurrency", "many"],
            "manage.py tasksqueue worker",
            "argument -c/--concurrency: expected a whole number of 1 or more, got 'many'",
        ),
        (
            ["worker", "--one-shot", "--verbose-jobs"],
            "manage.py tasksqueue",
            "unrecognized arguments: --verbose-jobs",
        ),
        (
            ["stats"],
            "manage.py tasksqueue",
            "argument SUBCOMMAND: invalid choice: 'stats' (choose from 'init', 'status', "
            "'shell', 'worker')",
        ),
        ([], "manage.py tasksqueue", "the following arguments are required: SUBCOMMAND"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(args, prog, error):
    result = manage("tasksqueue", *args)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"{prog}: error: {error} (see `{prog} --help`)\n"


def test_help_is_the_same_from_python_m_taiga_and_names_every_subcommand():
    from_module = subprocess.run(
        [sys.executable, "-m", "taiga", "tasksqueue", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )

    assert from_module.stdout == manage("tasksqueue", "--help").stdout
    assert from_module.stdout.startswith("usage: manage.py tasksqueue ")
    for line in (
        "    init                Load the tasks queue's database schema.",
        "    status              Check the state of the tasks queue; exit 1 if it is",
        "    shell               Run an administration shell on the tasks queue.",
        "    worker              Run a worker that processes jobs.",
    ):
        assert line in from_module.stdout.splitlines()


@pytest.mark.parametrize(
    ("subcommand", "options"),
    [
        ("init", ["--info"]),
        ("status", ["--json"]),
        ("shell", ["COMMAND"]),
        (
            "worker",
            [
                "-c, --concurrency CONCURRENCY",
                "-q, --queues QUEUE [QUEUE ...]",
                "-n, --name NAME",
                "--one-shot",
                "--delete-jobs {never,successful,always}",
                "--shutdown-timeout SECONDS",
                "--log-level {debug,info,warning,error}",
            ],
        ),
    ],
)
def test_each_subcommand_has_help_for_each_option(subcommand, options):
    result = manage("tasksqueue", subcommand, "--help")

    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: manage.py tasksqueue {subcommand} ")
    for option in options:
        assert f"  {option}" in result.stdout
