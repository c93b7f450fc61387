"""A worker's options, and the keyword arguments of Procrastinate's worker that they make."""

import os
import socket
from dataclasses import dataclass

from procrastinate.app import WorkerOptions as ProcrastinateWorkerOptions

from taiga.tasksqueue.conf import tq_settings

DELETE_JOBS_CHOICES = ("never", "successful", "always")
# How often a worker looks for jobs without being told: with LISTEN, for a notification lost
# with its connection (Procrastinate's default); without, the wait of a job deferred to an idle
# worker, half of it on average.
POLL_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1
    queues: tuple[str, ...] = ()  # empty: every queue
    name: str | None = None
    one_shot: bool = False  # process the jobs that are ready now, then return
    delete_jobs: str = "never"
    shutdown_timeout: float | None = None  # None: let running jobs take as long as they need
    install_signal_handlers: bool = True
    # The worker's HTTP endpoints (observability/worker_http.py): None serves none; 0 takes any
    # free port (the start line names it).
    metrics_port: int | None = None
    health_port: int | None = None
    metrics_address: str = "127.0.0.1"
    listen: bool = True  # False: find jobs by polling only, where LISTEN cannot be had
    poll_interval: float = POLL_INTERVAL_SECONDS

    @property
    def worker_name(self) -> str:
        return self.name or default_name()

    def describe_queues(self) -> str:
        return f"queues {', '.join(self.queues)}" if self.queues else "all queues"


def default_name() -> str:
    """host:pid, the process's identity on every machine of a deployment (as Sidekiq names its
    processes): workers on several hosts, or several on one, tell apart in logs and reports."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_kwargs(options: WorkerOptions) -> ProcrastinateWorkerOptions:
    kwargs: ProcrastinateWorkerOptions = {
        "concurrency": options.concurrency,
        "name": options.worker_name,
        "wait": not options.one_shot,
        "delete_jobs": options.delete_jobs,
        "listen_notify": options.listen,
        "fetch_job_polling_interval": options.poll_interval,
        # Signals are handled by the run (`shutdown.GracefulStop`): a second one stops at once.
        "install_signal_handlers": False,
        "update_heartbeat_interval": tq_settings.TASKSQUEUE_HEARTBEAT_SECONDS,
        # A starting worker forgets the workers silent this long (their jobs are then rescued).
        "stalled_worker_timeout": tq_settings.TASKSQUEUE_STALLED_AFTER_SECONDS,
    }
    # Procrastinate reads "no queues" and "no timeout" from absent keys.
    if options.queues:
        kwargs["queues"] = list(options.queues)  # psycopg sends a list as an array, a tuple not
    if options.shutdown_timeout is not None:
        kwargs["shutdown_graceful_timeout"] = options.shutdown_timeout
    return kwargs
