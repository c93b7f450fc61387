"""Five hosts: a primary PostgreSQL and its synchronous streaming standby (pg_basebackup -R,
`synchronous_commit = on`), a web-side client deferring jobs, and two worker hosts, all with one
multi-host connection string (`host=primary,standby`, `target_session_attrs=read-write`).

Mid-run the primary's postmaster is killed (SIGKILL) and the standby promoted, with no change of
configuration anywhere. Every job whose defer returned ends `succeeded` on the new primary (at
least once), the worker processes never exit, and `tasksqueue status` fails while no primary
answers and is healthy once the standby has taken over.
"""

import time
from contextlib import ExitStack
from pathlib import Path

from tests.multihost import postgres, project, queue_rows
from tests.multihost.project import DATABASE, STALLED_AFTER_SECONDS, TASK
from tests.utils.processes import TIMEOUT
from tests.utils.waiting import wait_until

JOBS = 3000
BATCH = 50
PAUSE_SECONDS = 0.05  # between batches, so that defers go on across the failover
KILL_AFTER_SUCCEEDED = 800
SYNC_STANDBY = [("sync",)]


def test_a_primary_killed_mid_run_and_its_standby_promoted_loses_no_deferred_job(
    network_on, folder: Path, report_figures, stack: ExitStack
):
    network = network_on("10.213.18")
    names = ("pg1", "pg2", "client", "w1", "w2")
    first, second, client, left, right = (network.add_host(name) for name in names)
    primary = postgres.Server(network, first, folder / "pg1")
    primary.initdb("timezone = 'UTC'", "synchronous_standby_names = '*'", "synchronous_commit = on")
    primary.start()
    standby = postgres.Server(network, second, folder / "pg2")
    standby.basebackup_of(primary)
    # Promoted, it has no standby of its own to wait for.
    standby.configure("synchronous_standby_names = ''")
    standby.start()
    with postgres.connect(first) as admin:
        wait_until(
            lambda: (
                admin.execute("SELECT sync_state FROM pg_stat_replication").fetchall()
                == SYNC_STANDBY
            ),
            "the standby to stream synchronously",
            interval=0.1,
        )
        admin.execute(f"CREATE DATABASE {DATABASE}")
    url = (
        f"postgres://postgres@{first.address}:{postgres.PORT},{second.address}:{postgres.PORT}"
        f"/{DATABASE}?target_session_attrs=read-write"
    )
    project.migrate(client, url)
    before = stack.enter_context(postgres.connect(first, DATABASE))
    queue_rows.create_runs_table(before)
    workers = [project.start_worker(network, host, url, folder) for host in (left, right)]

    def logs() -> str:
        return "\n".join(f"--- {w.name}\n{w.log()[-2000:]}" for w in workers)

    deferring = project.start_client(
        network, client, url, folder, count=JOBS, batch=BATCH, pause=PAUSE_SECONDS
    )
    wait_until(
        lambda: queue_rows.statuses(before, TASK)["succeeded"] >= KILL_AFTER_SUCCEEDED,
        f"{KILL_AFTER_SUCCEEDED} jobs to succeed",
        details=logs,
    )
    returned_before_kill = deferring.deferred()
    primary.kill()
    killed_at = time.time()
    during = project.manage(client, url, "tasksqueue", "status")
    standby.promote()
    assert deferring.finish() == 0, deferring.output.read_text()[-2000:]
    deferred = deferring.deferred()
    after = stack.enter_context(postgres.connect(second, DATABASE))

    def unsettled() -> set[int]:
        """Deferred jobs neither succeeded nor stalled: running, waiting for a retry, or (what
        must not be) missing on the new primary."""
        statuses = queue_rows.status_of(after, deferred)
        pending = {job_id for job_id in deferred if statuses.get(job_id) != "succeeded"}
        return pending - queue_rows.stalled(after, STALLED_AFTER_SECONDS)

    wait_until(
        lambda: not unsettled(),
        "every deferred job to succeed or stall on the new primary",
        timeout=TIMEOUT * 2,
        interval=0.2,
        details=lambda: f"{queue_rows.statuses(after, TASK)}\n{logs()}",
    )
    # A fetch whose answer the kill lost leaves its jobs in `doing`; the worker puts them back
    # as it stops, before it unregisters. Should that lookup itself miss the database while the
    # unregistering reaches it, they are left with no worker and only the rescue puts them back:
    # deferred here, as its once-a-minute schedule would (the figures count them).
    stalled = queue_rows.stalled(after, STALLED_AFTER_SECONDS)
    if stalled:
        project.defer_rescue(client, url)
    wait_until(
        lambda: queue_rows.status_of(after, deferred) == dict.fromkeys(deferred, "succeeded"),
        "every deferred job to succeed on the new primary",
        interval=0.2,
        details=lambda: f"{queue_rows.statuses(after, TASK)}\n{logs()}",
    )
    recovered = project.manage(client, url, "tasksqueue", "status")

    assert [worker.alive() for worker in workers] == [True, True]
    assert [worker.stop() for worker in workers] == [0, 0]
    assert len(deferred) == len(set(deferred)) == JOBS
    ran = queue_rows.runs(after)
    assert set(deferred) <= set(ran)
    assert stalled <= set(queue_rows.rescues(after))
    # What `status` can tell: no primary answers, then the new one does, with both workers
    # heartbeating, each back from the outage, and no job left stalled by it.
    assert during.returncode == 1
    assert during.stdout.splitlines()[0].startswith(
        "database: FAIL - Cannot connect to database 'default'"
    ), during.stdout
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    report = dict(line.split(": ", 1) for line in recovered.stdout.splitlines())
    assert report["database"].startswith("OK - PostgreSQL "), report["database"]
    assert report["database"].endswith(f", database '{DATABASE}'"), report["database"]
    assert report["workers"].startswith("OK - 2 alive by heartbeat ("), report["workers"]
    assert "w1 at concurrency 8" in report["workers"], report["workers"]
    assert "w2 at concurrency 8" in report["workers"], report["workers"]
    assert report["workers"].endswith(", no stalled jobs"), report["workers"]
    for name in ("w1", "w2"):
        assert f"; {name} came back from 1 database outage, the last at " in report["workers"]

    restarts = sum(worker.log().count("database unavailable") for worker in workers)
    reruns = sum(len(workers_of) > 1 for workers_of in ran.values())
    report_figures(
        f"{len(deferred)} jobs deferred, {len(returned_before_kill)} of them before the primary"
        f" was killed; {queue_rows.run_seconds(after):.1f} s from the first defer to the last run;"
        f" {queue_rows.first_run_after(after, killed_at):.1f} s from the kill to the first job run"
        f" on the new primary; {restarts} worker restarts; {len(stalled)} left in doing"
        f" without a worker and rescued;"
        f" {queue_rows.retried(after, TASK)} jobs retried, {reruns} run twice"
    )
