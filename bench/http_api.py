"""The request path over real HTTP: reading and creating a channel through `naadloos serve`,
8 concurrent clients, against the bare driver doing the same SQL serially."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
import uuid
from datetime import UTC, datetime

import psycopg

from bench.common import BenchDatabase, api_server, percentile, report
from bench.loadgen import Request, Result, run_load
from naadloos.kit import auth
from naadloos.runtime import build_runtime

CLIENTS = 8


def admin_key(db: BenchDatabase) -> str:
    runtime = build_runtime(db.settings)
    with runtime.db.unit_of_work() as session:
        key = auth.create_key(session, name="bench", scopes=[auth.ADMIN]).key
    runtime.db.dispose()
    return key


def raw_connection(db: BenchDatabase) -> tuple[object, str]:
    if db.name == "sqlite":
        conn = sqlite3.connect(db.raw_dsn, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn, "?"
    return psycopg.connect(db.raw_dsn.replace("postgresql+psycopg", "postgresql")), "%s"


def raw_read_ceiling(db: BenchDatabase, key: str, n: int) -> float:
    """Per request: look up the API key by prefix, read the channel by code."""
    conn, p = raw_connection(db)
    prefix = key.split("_")[1]
    started = time.perf_counter()
    for _ in range(n):
        cur = conn.cursor()  # type: ignore[attr-defined]
        cur.execute(
            f"SELECT id, secret_hash, scopes, channel, revoked_at FROM api_keys WHERE prefix = {p}",
            (prefix,),
        )
        cur.fetchone()
        cur.execute(f"SELECT * FROM channels WHERE code = {p}", ("web",))
        cur.fetchone()
        conn.commit()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    conn.close()  # type: ignore[attr-defined]
    return n / elapsed


def raw_write_ceiling(db: BenchDatabase, key: str, n: int) -> float:
    """Per request: key lookup, code check, insert the channel and its outbox event, commit."""
    conn, p = raw_connection(db)
    prefix = key.split("_")[1]
    now = datetime.now(UTC)
    stamp = now.replace(tzinfo=None).isoformat(" ") if db.name == "sqlite" else now
    started = time.perf_counter()
    for i in range(n):
        cur = conn.cursor()  # type: ignore[attr-defined]
        if db.name == "sqlite":
            cur.execute("BEGIN IMMEDIATE")
        code = f"raw:{i}"
        cur.execute(f"SELECT id, secret_hash, scopes FROM api_keys WHERE prefix = {p}", (prefix,))
        cur.fetchone()
        cur.execute(f"SELECT id FROM channels WHERE code = {p}", (code,))
        cur.fetchone()
        cid = uuid.uuid4()
        ident = cid.hex if db.name == "sqlite" else cid
        cur.execute(
            f"INSERT INTO channels (id, code, name, kind, capabilities, active, created_at, updated_at) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            (ident, code, "Raw", "store", '["browse","buy"]', True, stamp, stamp),
        )
        eid = uuid.uuid4()
        cur.execute(
            f"INSERT INTO outbox_events (event_id, name, payload, occurred_at, attempts, available_at) "
            f"VALUES ({p}, {p}, {p}, {p}, 0, {p})",
            (
                eid.hex if db.name == "sqlite" else eid,
                "ChannelCreated",
                '{"code": "x"}',
                stamp,
                stamp,
            ),
        )
        conn.commit() if db.name != "sqlite" else cur.execute("COMMIT")  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    conn.close()  # type: ignore[attr-defined]
    return n / elapsed


def report_http(metric: str, result: Result, ceiling: float) -> None:
    report(
        metric,
        result.requests_per_s,
        "requests/s",
        ceiling,
        p50_ms=round(percentile(result.latencies_ms, 50), 2),
        p99_ms=round(percentile(result.latencies_ms, 99), 2),
        clients=CLIENTS,
    )


def run(db: BenchDatabase, reads: int = 5000, writes: int = 2000) -> None:
    key = admin_key(db)
    digest = hashlib.sha256(key.encode()).hexdigest()[:6]
    get = Request("GET", "/v1/channels/web")
    with api_server(db.settings) as base:
        asyncio.run(run_load(base, key, 300, lambda _i: get))  # warm up
        result = asyncio.run(run_load(base, key, reads, lambda _i: get, CLIENTS))
        assert result.statuses == {200: reads}, result.statuses
        ceiling = raw_read_ceiling(db, key, reads)
        report_http(f"http.get_channel.{db.name}", result, ceiling)

        def create(i: int) -> Request:
            return Request(
                "POST",
                "/v1/channels",
                {"code": f"store:b{digest}-{i}", "name": f"Bench {i}", "kind": "store"},
                (("Idempotency-Key", f"bench-{i}"),),
            )

        result = asyncio.run(run_load(base, key, writes, create, CLIENTS))
        assert result.statuses == {201: writes}, result.statuses
        ceiling = raw_write_ceiling(db, key, writes)
        report_http(f"http.create_channel.{db.name}", result, ceiling)
