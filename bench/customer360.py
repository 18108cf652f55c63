"""Customer 360 latency at scale: 1,000,000 persons and 10,000,000 events (set NAADLOOS_BENCH_
PERSONS to scale down). The data is written with the bare driver (setup, not measured); then
`GET /v1/customers/{id}/360` for random persons over HTTP, one client, p50/p99, against the same
reads in raw SQL (person, identifiers, consents, latest 20 events) in the same run."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import BenchDatabase, api_server, percentile, report
from bench.http_api import admin_key, raw_connection
from bench.loadgen import Request, latencies_one_client

EVENTS_PER_PERSON = 10
CHUNK = 20_000


def _setup(db: BenchDatabase, persons: int) -> list[uuid.UUID]:
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    ident = (lambda u: u.hex) if sqlite else (lambda u: u)
    base = datetime(2026, 1, 1, tzinfo=UTC)

    def stamp(t: datetime) -> Any:
        return t.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else t

    rng = random.Random(1)
    ids: list[uuid.UUID] = []
    cur = conn.cursor()  # type: ignore[attr-defined]
    for start in range(0, persons, CHUNK):
        n = min(CHUNK, persons - start)
        batch_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(n)]
        ids += batch_ids
        person_rows, ident_rows, event_rows = [], [], []
        for i, pid in enumerate(batch_ids):
            k = start + i
            traits = json.dumps({"first_name": "Anna", "city": "Utrecht", "n": k})
            person_rows.append(
                (
                    ident(pid),
                    stamp(base),
                    stamp(base),
                    stamp(base),
                    stamp(base),
                    traits,
                    "{}",
                    '["web"]',
                )
            )
            device, email = uuid.UUID(int=rng.getrandbits(128)), uuid.UUID(int=rng.getrandbits(128))
            ident_rows.append(
                (
                    ident(device),
                    "anonymous_id",
                    f"dev-{k}",
                    ident(pid),
                    False,
                    stamp(base),
                    stamp(base),
                )
            )
            ident_rows.append(
                (
                    ident(email),
                    "email",
                    f"p{k}@ziggo.nl",
                    ident(pid),
                    False,
                    stamp(base),
                    stamp(base),
                )
            )
            for e in range(EVENTS_PER_PERSON):
                at = base + timedelta(minutes=k % 50_000 + e)
                event_rows.append(
                    (
                        ident(uuid.UUID(int=rng.getrandbits(128))),
                        f"m-{k}-{e}",
                        ident(pid),
                        ident(device),
                        "track",
                        "Product Viewed",
                        "web",
                        '{"sku": "S-1"}',
                        "{}",
                        "{}",
                        stamp(at),
                        stamp(at),
                    )
                )
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "INSERT INTO persons (id, created_at, updated_at, first_seen_at, last_seen_at, traits,"
            f" trait_times, channels) VALUES ({p},{p},{p},{p},{p},{p},{p},{p})",
            person_rows,
        )
        cur.executemany(
            "INSERT INTO identifiers (id, type, value, person_id, shared, first_seen_at,"
            f" last_seen_at) VALUES ({p},{p},{p},{p},{p},{p},{p})",
            ident_rows,
        )
        cur.executemany(
            "INSERT INTO customer_events (id, message_id, person_id, identifier_id, type, name,"
            " channel, properties, traits, context, timestamp, received_at)"
            f" VALUES ({p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p})",
            event_rows,
        )
        cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
    if not sqlite:
        cur.execute("ANALYZE")
        conn.commit()  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]
    return ids


def _raw_360(db: BenchDatabase, sample: list[uuid.UUID]) -> list[float]:
    conn, p = raw_connection(db)
    ident = (lambda u: u.hex) if db.name == "sqlite" else (lambda u: u)
    latencies = []
    for pid in sample:
        started = time.perf_counter()
        cur = conn.cursor()  # type: ignore[attr-defined]
        key = ident(pid)
        cur.execute(f"SELECT * FROM persons WHERE id = {p}", (key,))
        cur.fetchall()
        cur.execute(f"SELECT * FROM identifiers WHERE person_id = {p} ORDER BY type", (key,))
        cur.fetchall()
        cur.execute(f"SELECT * FROM consents WHERE person_id = {p} ORDER BY seq", (key,))
        cur.fetchall()
        cur.execute(
            f"SELECT * FROM customer_events WHERE person_id = {p} ORDER BY timestamp DESC,"
            " id DESC LIMIT 20",
            (key,),
        )
        cur.fetchall()
        conn.commit()  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - started) * 1000)
    conn.close()  # type: ignore[attr-defined]
    return latencies


def run(db: BenchDatabase) -> None:
    persons = int(os.environ.get("NAADLOOS_BENCH_PERSONS", "1000000"))
    started = time.perf_counter()
    ids = _setup(db, persons)
    setup_s = time.perf_counter() - started
    key = admin_key(db)
    sample = random.Random(2).sample(ids, min(2000, len(ids)))
    with api_server(db.settings) as base:
        result = latencies_one_client(
            base, key, lambda i: Request("GET", f"/v1/customers/{sample[i]}/360"), len(sample)
        )
    raw = _raw_360(db, sample)
    report(
        f"customer360.p99.{db.name}",
        percentile(result.latencies_ms, 99),
        "ms",
        percentile(raw, 99),
        p50_ms=round(percentile(result.latencies_ms, 50), 2),
        raw_p50_ms=round(percentile(raw, 50), 2),
        persons=persons,
        events=persons * EVENTS_PER_PERSON,
        setup_s=round(setup_s),
        target_ms=10,
    )
