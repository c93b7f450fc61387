"""Four hosts: PostgreSQL and PgBouncer (transaction pooling) on one, a web-side client deferring
5,000 jobs through PgBouncer on another, and a worker on each of the last two, whose tasks go
through PgBouncer too while their own pool and LISTEN connect directly
(TASKSQUEUE_WORKER_DATABASE_URL).

Both workers take a share. Mid-run one worker host's link goes down: the jobs it held stay in
`doing` until its heartbeat is stale, then the app's rescue puts them back (deferred by hand, as
its once-a-minute schedule would) and the other host runs them. Every job ends `succeeded` once;
only the jobs the cut-off host held run twice.
"""

from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.multihost import postgres, project, queue_rows
from tests.multihost.project import DATABASE, STALLED_AFTER_SECONDS, TASK
from tests.utils.processes import TIMEOUT
from tests.utils.waiting import wait_until

JOBS = 5000
BATCH = 250
CUT_AFTER_SUCCEEDED = 1500
MISSED_HEARTBEAT_SECONDS = 1.5  # workers beat every second (project.QUEUE_SETTINGS)


@pytest.mark.usefixtures("pgbouncer_installed")
def test_5000_jobs_through_pgbouncer_on_two_worker_hosts_one_cut_off_mid_run(
    network_on, folder: Path, report_figures, stack: ExitStack
):
    network = network_on("10.213.17")
    db, client, left, right = (network.add_host(name) for name in ("db", "client", "w1", "w2"))
    server = postgres.Server(network, db, folder / "db")
    server.initdb("timezone = 'UTC'", "max_connections = 100")
    server.start()
    with postgres.connect(db) as admin:
        admin.execute(f"CREATE DATABASE {DATABASE}")
    postgres.start_pgbouncer(network, db, folder / "pgbouncer", DATABASE)
    direct_url = f"postgres://postgres@{db.address}:{postgres.PORT}/{DATABASE}"
    # Django behind a pooler in transaction mode: no server-side cursors (its own prepared
    # statements are off unless OPTIONS ask for them).
    pooled_url = (
        f"postgres://postgres@{db.address}:{postgres.PGBOUNCER_PORT}/{DATABASE}"
        "?disable_server_side_cursors=true"
    )
    project.migrate(client, direct_url)
    rows = stack.enter_context(postgres.connect(db, DATABASE))
    queue_rows.create_runs_table(rows)
    workers = {
        host.name: project.start_worker(network, host, pooled_url, folder, queue_url=direct_url)
        for host in (left, right)
    }

    def logs() -> str:
        return "\n".join(f"--- {name}\n{w.log()[-2000:]}" for name, w in workers.items())

    deferring = project.start_client(network, client, pooled_url, folder, count=JOBS, batch=BATCH)
    wait_until(
        lambda: queue_rows.statuses(rows, TASK)["succeeded"] >= CUT_AFTER_SUCCEEDED,
        f"{CUT_AFTER_SUCCEEDED} jobs to succeed",
        details=logs,
    )
    network.cut(right)
    # A missed heartbeat says the cut has taken effect: from then on the host cannot change a
    # row, and the rescue leaves its jobs alone until its heartbeat is STALLED_AFTER_SECONDS old.
    wait_until(
        lambda: queue_rows.heartbeat_age(rows, right.name) > MISSED_HEARTBEAT_SECONDS,
        "the cut-off worker to miss a heartbeat",
        interval=0.1,
    )
    stranded = queue_rows.jobs_in_doing_of(rows, right.name)
    wait_until(
        lambda: queue_rows.heartbeat_age(rows, right.name) > STALLED_AFTER_SECONDS,
        "the cut-off worker's heartbeat to go stale",
        interval=0.2,
    )
    project.defer_rescue(client, pooled_url)
    assert deferring.finish() == 0, deferring.output.read_text()[-2000:]
    wait_until(
        lambda: queue_rows.statuses(rows, TASK) == Counter(succeeded=JOBS),
        "every job to succeed",
        timeout=TIMEOUT * 2,
        interval=0.2,
        details=lambda: f"{queue_rows.statuses(rows, TASK)}\n{logs()}",
    )

    assert workers[left.name].alive()
    assert workers[right.name].alive()
    assert workers[left.name].stop() == 0
    assert "heard nothing" not in workers[left.name].log()
    deferred = deferring.deferred()
    assert len(deferred) == len(set(deferred)) == JOBS
    succeeded = queue_rows.succeeded_events(rows)
    assert queue_rows.status_of(rows, deferred) == dict.fromkeys(deferred, "succeeded")
    assert {succeeded[job_id] for job_id in deferred} == {1}
    ran = queue_rows.runs(rows)
    assert set(ran) == set(deferred)
    shares = Counter(workers_of[-1] for workers_of in ran.values())
    assert shares[left.name] > 0
    assert shares[right.name] > 0
    assert stranded, "the cut-off host held no job when its link went down"
    assert queue_rows.rescues(rows) == dict.fromkeys(stranded, 1)
    assert {job_id: ran[job_id][-1] for job_id in stranded} == dict.fromkeys(stranded, left.name)
    reruns = {job_id for job_id, workers_of in ran.items() if len(workers_of) > 1}
    assert reruns <= stranded

    seconds = queue_rows.run_seconds(rows)
    report_figures(
        f"{JOBS} jobs deferred through PgBouncer (transaction mode), {seconds:.1f} s from the"
        f" first defer to the last run; last runs by host {dict(sorted(shares.items()))};"
        f" {len(stranded)} held by the cut-off host, rescued and run by {left.name};"
        f" {len(reruns)} reruns (jobs run twice)"
    )
