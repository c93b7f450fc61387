"""A counting TCP proxy in front of PostgreSQL, used only for the round-trip pass.

pg_stat_statements is not loaded on a stock server, and statement counts alone miss what matters
here (a BEGIN or an empty connection check costs a full round trip too). So the round-trip pass
points each system at this proxy on the loopback, which forwards bytes unchanged and counts, per
connection:

- round trips: how many times the client sends after having received something (or first): a
  client "flight" that follows a server answer. Several messages written at once (psycopg's
  extended protocol, or a pipeline) are one flight; a flight split over several reads is one.
- statements: the client's Query ('Q', simple protocol) and Execute ('E', extended protocol)
  messages, parsed from the client's byte stream (startup messages skipped).

The proxy adds latency, so no throughput figure is ever taken through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from dataclasses import dataclass

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


@dataclass
class Counts:
    round_trips: int = 0
    statements: int = 0
    connections: int = 0


class _ClientStream:
    """Splits the client's stream into protocol messages, counting Query and Execute."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = bytearray()
        self.in_startup = True
        self.broken = False

    def feed(self, data: bytes) -> None:
        if self.broken:
            return
        self.buffer += data
        while True:
            if self.in_startup:
                if len(self.buffer) < 8:
                    return
                (length,) = struct.unpack_from("!I", self.buffer, 0)
                if len(self.buffer) < length:
                    return
                (code,) = struct.unpack_from("!I", self.buffer, 4)
                del self.buffer[:length]
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    # The server answers with one byte; TLS would hide the rest, which the
                    # benchmark's sslmode=disable prevents.
                    continue
                self.in_startup = False
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[0]
            (length,) = struct.unpack_from("!I", self.buffer, 1)
            if length < 4:
                self.broken = True
                return
            if len(self.buffer) < length + 1:
                return
            if kind in (ord("Q"), ord("E")):
                self.counts.statements += 1
            del self.buffer[: length + 1]


class CountingProxy:
    """Listens on 127.0.0.1:<port> and forwards to the real server (TCP or unix socket)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.counts = Counts()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> CountingProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(timeout=10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 1)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def snapshot(self) -> Counts:
        counts = self.counts
        return Counts(counts.round_trips, counts.statements, counts.connections)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream_host.startswith("/"):
            path = f"{self.upstream_host}/.s.PGSQL.{self.upstream_port}"
            return await asyncio.open_unix_connection(path)
        return await asyncio.open_connection(self.upstream_host, self.upstream_port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counts.connections += 1
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.close()
            return
        stream = _ClientStream(self.counts)
        # Who spoke last on this connection: a client write after a server answer is a new trip.
        state = {"server_spoke": True}

        async def client_to_server() -> None:
            while data := await reader.read(65536):
                if state["server_spoke"]:
                    self.counts.round_trips += 1
                    state["server_spoke"] = False
                stream.feed(data)
                up_writer.write(data)
                await up_writer.drain()

        async def server_to_client() -> None:
            while data := await up_reader.read(65536):
                state["server_spoke"] = True
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(client_to_server()), asyncio.create_task(server_to_client())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for stream_writer in (writer, up_writer):
            with contextlib.suppress(Exception):
                stream_writer.close()
