"""Running a worker: its own PostgreSQL pool, separate from Django's connections."""

from dataclasses import dataclass

from procrastinate import PsycopgConnector
from procrastinate.app import WorkerOptions as ProcrastinateWorkerOptions
from procrastinate.contrib.django import connector_params

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.manager import manager

DELETE_JOBS_CHOICES = ("never", "successful", "always")


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1
    queues: tuple[str, ...] = ()  # empty: every queue
    name: str | None = None
    one_shot: bool = False  # process the jobs that are ready now, then return
    delete_jobs: str = "never"
    shutdown_timeout: float | None = None
    install_signal_handlers: bool = True


def worker_pool_size(concurrency: int) -> int:
    # One connection per running job's fetch/finish, one for LISTEN, one for heartbeats and
    # the periodic deferrer.
    return concurrency + 2


def build_connector(concurrency: int) -> PsycopgConnector:
    size = worker_pool_size(concurrency)
    return PsycopgConnector(
        kwargs=connector_params(tq_settings.DATABASE_ALIAS),
        min_size=1,
        max_size=size,
    )


def worker_kwargs(options: WorkerOptions) -> ProcrastinateWorkerOptions:
    kwargs: ProcrastinateWorkerOptions = {
        "concurrency": options.concurrency,
        "name": options.name or "worker",
        "wait": not options.one_shot,
        "delete_jobs": options.delete_jobs,
        "install_signal_handlers": options.install_signal_handlers,
    }
    # Procrastinate reads "no queues" and "no timeout" from absent keys.
    if options.queues:
        kwargs["queues"] = options.queues
    if options.shutdown_timeout is not None:
        kwargs["shutdown_graceful_timeout"] = options.shutdown_timeout
    return kwargs


async def run_worker(options: WorkerOptions) -> None:
    """Run a worker until it is stopped (or, with one_shot, until no job is ready)."""
    worker_connector = build_connector(options.concurrency)
    app = manager.app
    with app.replace_connector(worker_connector):
        async with app.open_async():
            await app.run_worker_async(**worker_kwargs(options))
