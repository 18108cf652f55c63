"""Tracking ingestion with identity stitching: `POST /v1/batch` over HTTP (batches of 100,
4 concurrent clients), against the raw insert of the same event rows in the same run.

The first tenth of the messages is sent before the clock starts, and the database analysed
then, as autovacuum does within a minute of service: a table without planner statistics
makes PostgreSQL keep a sequential scan for the messageId check (60 ms a batch at 20,000
events) in the plan it caches for the statement."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.common import BenchDatabase, api_server, report
from bench.http_api import admin_key, raw_connection
from bench.loadgen import Request, run_load

BATCH = 100
CLIENTS = 4


def messages(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """A realistic mix: a population of shoppers with one to three devices each; a third of
    them have an account and log in now and then (identify with user id and email)."""
    rng = random.Random(seed)
    people = max(1, n // 10)
    devices = [[f"dev-{p}-{d}" for d in range(rng.choice((1, 1, 2, 3)))] for p in range(people)]
    out: list[dict[str, Any]] = []
    for i in range(n):
        person = rng.randrange(people)
        device = rng.choice(devices[person])
        roll = rng.random()
        if person % 3 == 0 and roll < 0.08:
            user = f"user-{person}"
            out.append(
                {
                    "type": "identify",
                    "messageId": f"m-{i}",
                    "anonymousId": device,
                    "userId": user,
                    "traits": {"email": f"{user}@ziggo.nl", "city": "Utrecht"},
                }
            )
        elif roll < 0.5:
            out.append(
                {
                    "type": "page",
                    "messageId": f"m-{i}",
                    "anonymousId": device,
                    "name": "Product",
                    "properties": {"path": f"/p/{i % 500}"},
                }
            )
        else:
            out.append(
                {
                    "type": "track",
                    "messageId": f"m-{i}",
                    "anonymousId": device,
                    "event": "Product Viewed",
                    "properties": {"sku": f"SKU-{i % 900}"},
                }
            )
    return out


def raw_ceiling(db: BenchDatabase, msgs: list[dict[str, Any]]) -> float:
    """Insert the same events (one person, one identifier, for the foreign keys), batch by batch."""
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    now = datetime.now(UTC)
    stamp: Any = now.replace(tzinfo=None).isoformat(" ") if sqlite else now
    pid, iid = uuid.uuid4(), uuid.uuid4()
    ident = (lambda u: u.hex) if sqlite else (lambda u: u)
    cur = conn.cursor()  # type: ignore[attr-defined]
    if sqlite:
        cur.execute("BEGIN IMMEDIATE")
    cur.execute(
        f"INSERT INTO persons (id, created_at, updated_at, traits, trait_times, channels) VALUES ({p},{p},{p},'{{}}','{{}}','[]')",
        (ident(pid), stamp, stamp),
    )
    cur.execute(
        f"INSERT INTO identifiers (id, type, value, person_id, shared, first_seen_at, last_seen_at) VALUES ({p},'anonymous_id','raw',{p},{p},{p},{p})",
        (ident(iid), ident(pid), False, stamp, stamp),
    )
    cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
    started = time.perf_counter()
    for start in range(0, len(msgs), BATCH):
        rows = [
            (
                ident(uuid.uuid4()),
                "raw-" + m["messageId"],
                ident(pid),
                ident(iid),
                m["type"],
                m.get("event") or m.get("name"),
                json.dumps(m.get("properties", {})),
                json.dumps(m.get("traits", {})),
                "{}",
                stamp,
                stamp,
            )
            for m in msgs[start : start + BATCH]
        ]
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "INSERT INTO customer_events (id, message_id, person_id, identifier_id, type, name, properties, traits, context, timestamp, received_at) "
            f"VALUES ({p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p})",
            rows,
        )
        cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    conn.close()  # type: ignore[attr-defined]
    return len(msgs) / elapsed


def _analyze(db: BenchDatabase) -> None:
    """PostgreSQL: what autovacuum does to a table that grew (SQLite plans without it)."""
    if db.name != "postgresql":
        return
    conn, _ = raw_connection(db)
    conn.execute("ANALYZE customer_events, identifiers, persons, identity_links")  # type: ignore[attr-defined]
    conn.commit()  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]


def run(db: BenchDatabase, n: int = 40_000) -> None:
    key = admin_key(db)
    msgs = messages(n)
    batches = [msgs[i : i + BATCH] for i in range(0, n, BATCH)]
    warm = max(1, len(batches) // 10)

    def send(chosen: list[list[dict[str, Any]]]) -> None:
        result = asyncio.run(
            run_load(
                base,
                key,
                len(chosen),
                lambda i: Request("POST", "/v1/batch", {"batch": chosen[i]}),
                CLIENTS,
            )
        )
        assert result.statuses == {200: len(chosen)}, result.statuses

    with api_server(db.settings) as base:
        send(batches[:warm])
        _analyze(db)
        started = time.perf_counter()
        send(batches[warm:])
        elapsed = time.perf_counter() - started
    timed = sum(len(b) for b in batches[warm:])
    ceiling = raw_ceiling(db, msgs)
    report(
        f"ingest.batch.{db.name}",
        timed / elapsed,
        "events/s",
        ceiling,
        batch=BATCH,
        clients=CLIENTS,
    )
