"""CPU instructions per request, counted by valgrind's callgrind: the same figure on every run.

On a shared 2-core machine a timing can move 30% between two runs of the same code, which hides
the change being measured; an instruction count does not move. Use it to compare two versions
of a hot path (`git stash`, run, `git stash pop`, run). Requests go to the ASGI app in the same
process (no HTTP parsing, no load generator), one after another; on PostgreSQL the database
work still crosses to a worker thread, as when served.

    python -m bench.cost                 # every scenario, SQLite and PostgreSQL
    python -m bench.cost reserve sqlite  # one scenario on one database (reserve, get_channel,
                                         # dispatch: a round of one event, batch: per event,
                                         # checkout: cart, two lines, collect checkout)

Needs `valgrind` (Debian: `apt install valgrind`); not part of `make bench`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from bench import checkout, ingest, inventory
from bench.common import fresh_database, postgres_available, report
from bench.http_api import admin_key
from naadloos.api.app import create_app
from naadloos.inventory.events import StockChanged
from naadloos.kit.events import emit
from naadloos.kit.settings import Settings

SCENARIOS = ("reserve", "get_channel", "dispatch", "batch", "checkout")
REQUESTS = 100
BATCH = 100  # tracking messages in a `/v1/batch` request
WARM_UP = 50


def _toggle(on: bool) -> None:
    flag = "on" if on else "off"
    control = ["callgrind_control", "-i", flag, str(os.getpid())]
    subprocess.run(control, check=False, stdout=subprocess.DEVNULL)


def _asgi_caller(app: Any, key: str) -> Callable[..., Any]:
    """An awaitable that sends one request to the app and returns its status; `body` (a list)
    receives the response's body."""
    auth = f"Bearer {key}".encode()

    async def call(
        method: str,
        path: str,
        body: bytes,
        extra: tuple[tuple[bytes, bytes], ...] = (),
        out: list[bytes] | None = None,
    ) -> int:
        headers = [(b"host", b"bench"), (b"authorization", auth), *extra]
        headers.append((b"content-length", str(len(body)).encode()))
        if body:
            headers.append((b"content-type", b"application/json"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects
            return {}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and out is not None:
                out.append(message.get("body", b""))

        await app(scope, receive, send)
        return status

    return call


def _inner(scenario: str, database_url: str, key: str) -> None:
    """Run one scenario on a prepared database, instrumented only around the measured requests."""
    logging.disable(logging.WARNING)
    settings = Settings(database_url=database_url, dispatcher_batch_size=1)
    app = create_app(settings, dispatch=False)
    runtime = app.state.runtime
    call = _asgi_caller(app, key)
    rng = random.Random(4)
    if scenario == "dispatch":  # one event a round: the events are written before counting
        with runtime.db.unit_of_work() as session:
            for _ in range(WARM_UP + REQUESTS):
                emit(session, StockChanged(sku="SKU-0001", location="store:s000", on_hand=1,
                                           reserved=0, allocated=0, damaged=0, available=1,
                                           cause="reserved", reference=None))  # fmt: skip

    tracked = iter(ingest.messages((WARM_UP + REQUESTS) * BATCH))
    baskets = iter(checkout._baskets("WARM", WARM_UP + REQUESTS, seed=3))

    async def buy() -> int:
        out: list[bytes] = []
        status = await call("POST", "/v1/carts", b'{"channel": "web", "location": "store:s000"}',
                            out=out)  # fmt: skip
        cart = json.loads(b"".join(out))["id"]
        for sku in next(baskets):
            line = json.dumps({"sku": sku, "qty": 1}).encode()
            status = max(status, await call("POST", f"/v1/carts/{cart}/lines", line))
        body = b'{"fulfilment": "collect", "pickup_location": "store:s000"}'
        key = (b"idempotency-key", f"checkout-{cart}".encode())
        return max(status, await call("POST", f"/v1/carts/{cart}/checkout", body, (key,)))

    async def once() -> None:
        if scenario == "batch":  # figures per event, not per request: see `_measure`
            body = {"batch": [next(tracked) for _ in range(BATCH)]}
            status = await call("POST", "/v1/batch", json.dumps(body).encode())
        elif scenario == "checkout":  # figures per checkout: four requests
            status = await buy()
        elif scenario == "get_channel":
            status = await call("GET", "/v1/channels/web", b"")
        elif scenario == "reserve":
            sku = f"SKU-{rng.randrange(inventory.RESERVE_SKUS):04d}"
            body = {"channel": "web", "sku": sku, "location": "store:s000", "qty": 1}
            status = await call("POST", "/v1/reservations", json.dumps(body).encode())
        else:
            status = 200 if (await runtime.dispatcher.run_once()).delivered == 1 else 500
        if status >= 400:
            raise SystemExit(f"bench.cost: {scenario} answered {status}")

    async def main() -> None:
        for _ in range(WARM_UP):
            await once()
        _toggle(True)
        for _ in range(REQUESTS):
            await once()
        _toggle(False)

    asyncio.run(main())
    runtime.db.dispose()


def _measure(scenario: str, backend: str) -> int:
    with fresh_database(backend) as db, tempfile.TemporaryDirectory() as tmp:
        if scenario == "checkout":
            checkout._setup(db)
        else:
            inventory.RESERVE_STOCK = 1_000_000
            inventory._reserve_setup(db)
        key = admin_key(db)
        done = subprocess.run(
            [  # noqa: S607 - valgrind from PATH
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={tmp}/cg.%p.out",
                sys.executable,
                "-m",
                "bench.cost",
                "--inner",
                scenario,
                db.settings.database_url,
                key,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"bench.cost: {scenario} on {backend} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1)) // (REQUESTS * (BATCH if scenario == "batch" else 1))


def main(args: list[str]) -> None:
    if args[:1] == ["--inner"]:
        _inner(args[1], args[2], args[3])
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("bench.cost needs valgrind (apt install valgrind)")
    scenarios = [a for a in args if a in SCENARIOS] or list(SCENARIOS)
    backends = [a for a in args if a in ("sqlite", "postgresql")] or (
        ["sqlite", "postgresql"] if postgres_available() else ["sqlite"]
    )
    for backend in backends:
        for scenario in scenarios:
            per_request = _measure(scenario, backend)
            unit = {"batch": "instructions/event", "checkout": "instructions/checkout"}.get(
                scenario, "instructions/request"
            )
            report(f"cost.{scenario}.{backend}", per_request, unit, None)


if __name__ == "__main__":
    main(sys.argv[1:])
