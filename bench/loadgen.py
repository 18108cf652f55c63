"""A lean HTTP/1.1 keep-alive load generator. httpx costs ~2 ms of CPU a request, which on a
2-core machine would measure the client instead of naadloos; this costs a few microseconds."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from naadloos.kit import heap


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: object | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Result:
    requests_per_s: float
    latencies_ms: list[float]
    statuses: dict[int, int]


@contextlib.contextmanager
def _settled_heap() -> Iterator[None]:
    """The load generator's own full garbage collections (60 ms over the bench's setup data)
    would stall every client at once and be counted as naadloos' latency: the heap is frozen
    for the run, as `naadloos serve` freezes its own (`naadloos.kit.heap`)."""
    heap.settle()
    try:
        yield
    finally:
        gc.unfreeze()


def _encode(req: Request, host: str, auth: str) -> bytes:
    body = b"" if req.body is None else json.dumps(req.body).encode()
    lines = [
        f"{req.method} {req.path} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: {auth}",
        f"Content-Length: {len(body)}",
    ]
    if body:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in req.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def run_load(
    base: str, key: str, total: int, make: Callable[[int], Request], clients: int = 8
) -> Result:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    auth = f"Bearer {key}"
    counter = iter(range(total))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                payload = _encode(make(i), host, auth)
                started = time.perf_counter()
                writer.write(payload)
                status = await _read_response(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()
            await writer.wait_closed()

    with _settled_heap():
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return Result(total / elapsed, latencies, statuses)


def latencies_one_client(
    base: str, key: str, make: Callable[[int], Request], total: int, warm_up: int = 200
) -> Result:
    """Latency as one user sees it: one client, after `warm_up` requests; every answer a 200."""
    asyncio.run(run_load(base, key, min(warm_up, total), make, 1))
    result = asyncio.run(run_load(base, key, total, make, 1))
    if result.statuses != {200: total}:
        raise RuntimeError(f"not every request answered 200: {result.statuses}")
    return result


class Session:
    """One keep-alive connection that reads answers in full (a flow needs the ids in them)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, auth: str
    ) -> None:
        self.reader, self.writer, self.host, self.auth = reader, writer, host, auth

    async def call(self, req: Request) -> tuple[int, object]:
        self.writer.write(_encode(req, self.host, self.auth))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, json.loads(body) if body else None


Flow = Callable[[Session, int], Awaitable[str]]


@dataclass
class FlowResult:
    flows_per_s: float
    latencies_ms: list[float]
    outcomes: dict[str, int]


async def run_flows(base: str, key: str, total: int, flow: Flow, clients: int = 8) -> FlowResult:
    """`total` runs of `flow` (several dependent requests) from `clients` connections; the
    latency is a whole flow's, the statuses count what each flow returned."""
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counter = iter(range(total))
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        session = Session(reader, writer, host, f"Bearer {key}")
        try:
            for i in counter:
                started = time.perf_counter()
                outcome = await flow(session, i)
                latencies.append((time.perf_counter() - started) * 1000)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        finally:
            writer.close()
            await writer.wait_closed()

    with _settled_heap():
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return FlowResult(total / elapsed, latencies, outcomes)
