"""The dashboard's pages on a big table: `python -m benchmarks.tools.dashboard`.

Seeds a database of its own (`bench_dashboard`, on the server DATABASE_URL names, or the embedded
one) with 1,000,000 jobs by default: statuses, queues and tasks mixed, each with its `deferred`
event, an end event for the finished ones (spread over three days, so the 24-hour chart has
work), and a run record with a traceback for each failed one. Then it times the server side of
each page (the whole request through Django's test client, in this process), the median of
`--repeat` requests after one to warm up, and of the state exporter's `/metrics` with its cache
off. Procrastinate's own admin list is timed on the same data.

Not part of `make bench`: seeding takes about a minute, and the figures are page times, not
throughput. The seeded jobs stay for the next run (`--reseed` makes them again).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from benchmarks import db

DATABASE = "bench_dashboard"
QUEUES = 5
TASKS = 20

SEED = """
SET session_replication_role = replica;
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args, status, attempts)
SELECT 'queue_' || (g % {queues}), 'bench.task_' || (g % {tasks}), 0,
       jsonb_build_object('user_id', g, 'note', 'order ' || g),
       (CASE WHEN g % 100 < 70 THEN 'succeeded'
             WHEN g % 100 < 75 THEN 'failed'
             WHEN g % 100 < 90 THEN 'todo'
             WHEN g % 100 < 91 THEN 'doing'
             ELSE 'cancelled' END)::procrastinate_job_status,
       CASE WHEN g % 100 < 75 THEN 1 ELSE 0 END
  FROM generate_series(1, {jobs}) AS g;
INSERT INTO procrastinate_events (job_id, type, at)
SELECT id, 'deferred', now() - interval '3 days' + id * {spacing} * interval '1 second'
  FROM procrastinate_jobs;
INSERT INTO procrastinate_events (job_id, type, at)
SELECT id, status::text::procrastinate_job_event_type,
       now() - interval '3 days' + (id * {spacing} + 60) * interval '1 second'
  FROM procrastinate_jobs WHERE status IN ('succeeded', 'failed');
INSERT INTO tasksqueue_jobattempt (job_id, attempt, worker_id, outcome, error_class, traceback)
SELECT id, 1, 1, 'failed', 'builtins.ValueError',
       'Traceback (most recent call last):' || chr(10) || '  ...' || chr(10) || 'ValueError: boom'
  FROM procrastinate_jobs WHERE status = 'failed';
SET session_replication_role = DEFAULT;
"""


def seed(server: db.Server, jobs: int, reseed: bool) -> None:
    with server.connect(DATABASE) as conn:
        [(count,)] = conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchall()
    if count == jobs and not reseed:
        print(f"{DATABASE}: {jobs:,} jobs already seeded")
        return
    started = time.monotonic()
    db.truncate(server, DATABASE, ["procrastinate_jobs", "procrastinate_workers"])
    with server.connect(DATABASE) as conn:
        # Deferred one after another over three days, as ids grow with time on a real queue.
        spacing = 259200 / jobs
        conn.execute(SEED.format(queues=QUEUES, tasks=TASKS, jobs=int(jobs), spacing=spacing))
    db.analyze(
        server,
        DATABASE,
        ["procrastinate_jobs", "procrastinate_events", "tasksqueue_jobattempt"],
    )
    print(f"{DATABASE}: seeded {jobs:,} jobs in {time.monotonic() - started:.0f} s")


def pages(first_failed: int) -> list[tuple[str, str]]:
    jobs = "/admin/tasksqueue/job/"
    stock = "/admin/procrastinate/procrastinatejob/"
    return [
        ("overview", f"{jobs}overview/"),
        ("jobs list, unfiltered", jobs),
        ("jobs list, status=failed", f"{jobs}?status=failed"),
        ("jobs list, queue and status", f"{jobs}?queue_name=queue_3&status=todo"),
        ("search, a job id", f"{jobs}?q={first_failed}"),
        ("jobs list, deferred in the last hour", f"{jobs}?deferred=1h"),
        ("search, argument text (newest jobs)", f"{jobs}?q=order+987654"),
        ("search, argument text, all jobs", f"{jobs}?q=order+123457&search_in=all"),
        ("a failed job's page", f"{jobs}{first_failed}/change/"),
        # The state exporter, its report built for every scrape (no cache window here).
        ("state exporter /metrics, uncached", "/metrics"),
        ("Procrastinate's admin list, unfiltered", stock),
        ("Procrastinate's admin list, status=failed", f"{stock}?status=failed"),
    ]


def time_pages(repeat: int) -> list[tuple[str, float, int]]:
    """(page, median ms, HTTP status) of each page."""
    from django.contrib.auth.models import User
    from django.test import Client

    from taiga.tasksqueue.models import Job

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", password="bench"
    )
    client = Client(HTTP_HOST="localhost")  # one of the project's ALLOWED_HOSTS
    client.force_login(user)
    first_failed = Job.objects.filter(status="failed").order_by("id").values_list("id", flat=True)
    results = []
    for label, url in pages(first_failed[0]):
        response = client.get(url)  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        results.append((label, statistics.median(times), response.status_code))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    server = db.find_server()
    db.ensure_database(server, DATABASE)
    url = server.url(DATABASE)
    env = {**os.environ, "DATABASE_URL": url}
    db.run_quiet([sys.executable, "manage.py", "migrate", "-v", "0"], env)
    seed(server, args.jobs, args.reseed)

    os.environ["DATABASE_URL"] = url
    os.environ["TASKSQUEUE_METRICS_CACHE_SECONDS"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taiga.conf.settings")
    import django

    django.setup()
    rows = time_pages(args.repeat)
    print(f"\nServer time of each page, median of {args.repeat}, {args.jobs:,} jobs:\n")
    print("| page | ms | status |")
    print("|---|---|---|")
    for label, ms, status in rows:
        print(f"| {label} | {ms:,.0f} | {status} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
