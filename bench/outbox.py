"""Event delivery: the dispatcher delivering a backlog to one in-process subscriber, against the
bare driver doing the same SQL (claim a batch, record each event as processed, settle the batch)."""

from __future__ import annotations

import asyncio
import time
import uuid

from bench.common import BenchDatabase, report
from bench.http_api import raw_connection
from naadloos.channels.events import ChannelCreated
from naadloos.kit.events import emit
from naadloos.runtime import build_runtime


def seed(db: BenchDatabase, n: int) -> None:
    runtime = build_runtime(db.settings)
    with runtime.db.unit_of_work() as session:
        for i in range(n):
            emit(session, ChannelCreated(code=f"c{i}", name="n", kind="web", capabilities=[]))
    runtime.db.dispose()


def dispatcher_rate(db: BenchDatabase, n: int) -> float:
    seed(db, n)
    runtime = build_runtime(db.settings)
    runtime.bus.subscribe(ChannelCreated, "bench", lambda _s, _e: None)
    started = time.perf_counter()
    delivered = asyncio.run(runtime.dispatcher.drain())
    elapsed = time.perf_counter() - started
    runtime.db.dispose()
    assert delivered == n, delivered
    return n / elapsed


def raw_ceiling(db: BenchDatabase, n: int, batch: int) -> float:
    seed(db, n)
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    started = time.perf_counter()
    while True:
        cur = conn.cursor()  # type: ignore[attr-defined]
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            "UPDATE outbox_events SET claimed_until = CURRENT_TIMESTAMP WHERE seq IN "
            f"(SELECT seq FROM outbox_events WHERE delivered_at IS NULL ORDER BY seq LIMIT {batch}) "
            "RETURNING seq, event_id"
        )
        rows = cur.fetchall()
        cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
        if not rows:
            break
        for _seq, event_id in rows:
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")
            cur.execute(
                f"SELECT 1 FROM processed_events WHERE consumer = {p} AND event_id = {p}",
                ("raw", event_id),
            )
            cur.execute(
                f"INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ({p}, {p}, CURRENT_TIMESTAMP)",
                ("raw", event_id),
            )
            cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        marks = ",".join([p] * len(rows))
        cur.execute(
            f"UPDATE outbox_events SET delivered_at = CURRENT_TIMESTAMP, claimed_until = NULL WHERE seq IN ({marks})",
            [r[0] for r in rows],
        )
        cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    conn.close()  # type: ignore[attr-defined]
    _ = uuid
    return n / elapsed


def run(db: BenchDatabase, n: int = 5000) -> None:
    rate = dispatcher_rate(db, n)
    ceiling = raw_ceiling(db, n, batch=200)
    report(f"outbox.deliver.{db.name}", rate, "events/s", ceiling, events=n)
