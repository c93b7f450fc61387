"""The worker's HTTP endpoints: `/metrics` on --metrics-port, `/health/live` and `/health/ready`
on it and on --health-port.

They are served by the worker's own event loop, not a thread: a scrape reads the counts where
they are written, with no lock, and a liveness probe is answered only while the loop turns (a
loop blocked by a task is a worker that is not alive). One request per connection, GET or HEAD;
probes and Prometheus ask nothing more.
"""

import asyncio
import contextlib
import http
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from taiga.tasksqueue.exceptions import TasksQueueError
from taiga.tasksqueue.observability.worker_exposition import WorkerCollector, worker_registry
from taiga.tasksqueue.observability.worker_health import WorkerReadiness
from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
from taiga.tasksqueue.worker import LOGGER_NAME
from taiga.tasksqueue.worker.jobs.job_log import JobLog
from taiga.tasksqueue.worker.options import WorkerOptions
from taiga.tasksqueue.worker.queue_db.reconnect import ReconnectingConnector
from taiga.tasksqueue.worker.supervisor import Supervisor

logger = logging.getLogger(LOGGER_NAME)

# Long enough for any client on a network, short enough that idle connections do not pile up.
REQUEST_SECONDS = 10.0
MAX_HEADER_LINES = 100
JSON = "application/json"

Response = tuple[int, str, bytes]
Route = Callable[[], Awaitable[Response]]


@dataclass(frozen=True)
class Listener:
    """A port to serve, and what for ("--metrics-port", "--health-port")."""

    option: str
    port: int
    metrics: bool


class WorkerEndpoints:
    def __init__(self, readiness: WorkerReadiness, registry: CollectorRegistry | None) -> None:
        self.readiness = readiness
        self.registry = registry

    def routes(self, metrics: bool) -> dict[str, Route]:
        routes: dict[str, Route] = {"/health/live": self.live, "/health/ready": self.ready}
        if metrics:
            routes["/metrics"] = self.metrics
        return routes

    async def live(self) -> Response:
        return _json(http.HTTPStatus.OK, {"status": "live"})

    async def ready(self) -> Response:
        # The same document as the web app's /health/ready.
        checks = await self.readiness.checks()
        document = {"checks": {name: "ok" if ok else "fail" for name, ok in checks.items()}}
        if all(checks.values()):
            return _json(http.HTTPStatus.OK, {"status": "ready", **document})
        return _json(http.HTTPStatus.SERVICE_UNAVAILABLE, {"status": "unavailable", **document})

    async def metrics(self) -> Response:
        assert self.registry is not None
        return http.HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(self.registry)

    @contextlib.asynccontextmanager
    async def serving(self, address: str, listeners: list[Listener]) -> AsyncIterator[None]:
        """Serve each listener's port on `address` for the block; one line each says where."""
        servers: list[asyncio.Server] = []
        try:
            for listener in listeners:
                server = await self._start(address, listener)
                servers.append(server)
                host, port = server.sockets[0].getsockname()[:2]
                paths = ", ".join(sorted(self.routes(listener.metrics)))
                logger.info("serving %s on http://%s:%d (%s)", paths, host, port, listener.option)
            yield
        finally:
            for server in servers:
                server.close()
                await server.wait_closed()

    async def _start(self, address: str, listener: Listener) -> asyncio.Server:
        routes = self.routes(listener.metrics)

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _answer(routes, reader, writer)

        try:
            return await asyncio.start_server(answer, address, listener.port)
        except OSError as exc:
            # asyncio words a failed bind at length; the system's own words are enough. An
            # address that does not resolve has a negative (resolver's) error number.
            reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror
            raise TasksQueueError(
                f"{listener.option}: cannot listen on {address}:{listener.port} "
                f"({reason or exc}); choose a free port or another address (--metrics-address)"
            ) from exc


async def _answer(
    routes: dict[str, Route], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        async with asyncio.timeout(REQUEST_SECONDS):
            method, target = await _read_request(reader)
            route = routes.get(target.partition("?")[0])
            if method not in ("GET", "HEAD"):
                status, kind, body = _json(
                    http.HTTPStatus.METHOD_NOT_ALLOWED, {"error": "GET or HEAD only"}
                )
            elif route is None:
                status, kind, body = _json(
                    http.HTTPStatus.NOT_FOUND, {"error": "not found", "paths": sorted(routes)}
                )
            else:
                status, kind, body = await route()
            head = (
                f"HTTP/1.1 {int(status)} {http.HTTPStatus(status).phrase}\r\n"
                f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
    except (TimeoutError, ConnectionError, ValueError):
        pass  # a client that went away or spoke no HTTP gets nothing more
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """The request's method and target; its headers are read and ignored."""
    method, target, _version = (await reader.readline()).decode("latin-1").split()
    for _ in range(MAX_HEADER_LINES):
        if (await reader.readline()).strip() == b"":
            return method, target
    raise ValueError("too many header lines")


def _json(status: http.HTTPStatus, document: object) -> Response:
    return status, JSON, json.dumps(document).encode()


@contextlib.asynccontextmanager
async def worker_endpoints(
    options: WorkerOptions,
    metrics: WorkerMetrics | None,
    job_log: JobLog,
    connector: ReconnectingConnector,
    supervisor: Supervisor,
) -> AsyncIterator[None]:
    """Serve the ports `options` ask for (none: nothing) while the worker runs."""
    listeners = []
    if options.metrics_port is not None:
        listeners.append(Listener("--metrics-port", options.metrics_port, metrics=True))
    if options.health_port is not None and (
        options.health_port != options.metrics_port or options.health_port == 0
    ):
        listeners.append(Listener("--health-port", options.health_port, metrics=False))
    if not listeners:
        yield
        return
    registry = None
    if metrics is not None:
        registry = worker_registry(
            WorkerCollector(metrics, job_log.running.values, options.concurrency)
        )
    endpoints = WorkerEndpoints(WorkerReadiness(connector, supervisor), registry)
    async with endpoints.serving(options.metrics_address, listeners):
        yield
