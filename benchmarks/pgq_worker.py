"""PgQueuer's worker on the benchmark's tasks: `python -m benchmarks.pgq_worker --driver asyncpg`.

This calls `pgqueuer.run`, the runner behind `pgq run`, with the same arguments the command line
takes. The command line itself is not used: in pgqueuer 1.6.0 its `--log-level` option (and its
default) fails before the worker starts ("'str' object has no attribute 'name'").
"""

import argparse
import asyncio
import functools
from datetime import timedelta

import pgqueuer
from pgqueuer.domain.types import QueueExecutionMode

from benchmarks.pgq_app import DRIVERS, create_manager


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--driver", choices=DRIVERS, default="psycopg")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--max-concurrent-tasks", type=int, default=None)
    parser.add_argument("--drain", action="store_true", help="exit once the queue is empty")
    args = parser.parse_args()
    mode = QueueExecutionMode.drain if args.drain else QueueExecutionMode.continuous
    asyncio.run(
        pgqueuer.run(
            functools.partial(create_manager, args.driver),
            batch_size=args.batch_size,
            max_concurrent_tasks=args.max_concurrent_tasks,
            mode=mode,
            dequeue_timeout=timedelta(seconds=30),
        )
    )


if __name__ == "__main__":
    main()
