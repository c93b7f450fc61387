"""Run `tasksqueue worker` from its Python API, for as long as the management command is not there.

`python -m benchmarks.ours_worker -c 10 --one-shot` does what `manage.py tasksqueue worker -c 10
--one-shot` will do; `benchmarks.systems.OURS_WORKER` picks which of the two the harness runs.
"""

import argparse
import asyncio
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("--one-shot", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taiga.conf.settings")
    import django

    django.setup()
    from taiga.tasksqueue.worker import WorkerOptions, run_worker

    asyncio.run(run_worker(WorkerOptions(concurrency=args.concurrency, one_shot=args.one_shot)))


if __name__ == "__main__":
    main()
