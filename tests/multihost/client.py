"""The web side, run on the client host: `python -m tests.multihost.client COUNT BATCH PAUSE`.

Defers COUNT jobs of `record_run` in batches of BATCH (`defer_many_sync`) through the project's
DATABASE_URL, PAUSE seconds apart, and prints one line per batch once its defer returned:
`deferred ID ID ...`. A defer that fails (the database is away during a failover) is printed as
`failed: ...` and the batch is tried again on a new connection after a pause, up to ATTEMPTS times:
a job is printed only once its defer returned.
"""

import sys
import time

import django

ATTEMPTS = 60
RETRY_PAUSE_SECONDS = 0.5


def main(count: int, batch: int, pause: float) -> None:
    django.setup()
    from django.db import connections

    from tests.multihost.tasks import record_run

    for start in range(0, count, batch):
        calls = [(n,) for n in range(start, min(start + batch, count))]
        for _ in range(ATTEMPTS):
            try:
                ids = record_run.defer_many_sync(calls)
            except Exception as exc:  # whatever the database's absence raises: said, then retried
                cause = f" ({exc.__cause__})" if exc.__cause__ else ""
                said = " ".join(f"{exc}{cause}".split())
                print(f"failed: {type(exc).__name__}: {said}", flush=True)
                connections.close_all()  # Django does not reconnect a broken connection itself
                time.sleep(RETRY_PAUSE_SECONDS)
            else:
                print("deferred", *ids, flush=True)
                break
        else:
            sys.exit(f"gave up deferring after {ATTEMPTS} attempts")
        time.sleep(pause)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
