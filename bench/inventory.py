"""Inventory at scale.

1. Availability: 100,000 SKUs x 100 locations (10,000,000 stock rows; NAADLOOS_BENCH_SKUS scales
   it down), written with the bare driver as setup. `GET /v1/availability` for random SKUs near a
   point over HTTP, one client, p50/p99, against the same reads in raw SQL.
2. Reservations: `POST /v1/reservations` (one line, one unit) from 8 concurrent HTTP clients on
   SKUs with little stock, so that many find none; afterwards no SKU may be oversold. The ceiling
   is the same transaction through the bare driver, serially: the conditional UPDATE, the
   reservation and its line, and the StockChanged event in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import (
    ONE_PROCESS,
    BenchDatabase,
    Layout,
    api_server,
    ident,
    percentile,
    report,
    stamp,
)
from bench.http_api import admin_key, raw_connection
from bench.loadgen import Request, latencies_one_client, run_load

LOCATIONS = 100
VARIANTS_PER_PRODUCT = 4
CHUNK = 5_000
NEAR = (52.0907, 5.1214)


def _setup(db: BenchDatabase, skus: int, stock: int = 50) -> list[str]:
    """Products, variants, locations across the Netherlands, and a stock row per (sku, place)."""
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    now = stamp(db, datetime.now(UTC))
    rng = random.Random(5)
    cur = conn.cursor()  # type: ignore[attr-defined]
    if sqlite:
        cur.execute("BEGIN IMMEDIATE")
    cur.executemany(
        "INSERT INTO locations (id, code, name, kind, address, latitude, longitude,"
        " opening_hours, capabilities, channel, active, created_at)"
        f" VALUES ({p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p},{p})",
        [
            (
                n + 1,
                f"store:s{n:03d}",
                f"Store {n}",
                "store" if n % 10 else "warehouse",
                "{}",
                50.8 + rng.random() * 2.6,
                3.4 + rng.random() * 3.6,
                "{}",
                '["sell", "ship", "pickup", "returns"]' if n % 10 else '["ship", "returns"]',
                None,
                True,
                now,
            )
            for n in range(LOCATIONS)
        ],
    )
    if not sqlite:
        cur.execute("SELECT setval('locations_id_seq', %s)", (LOCATIONS,))
    names = [f"SKU-{n:06d}" for n in range(skus)]
    for start in range(0, skus, CHUNK):
        chunk = names[start : start + CHUNK]
        products, variants = [], []
        product_id = None
        for i, sku in enumerate(chunk, start):
            if i % VARIANTS_PER_PRODUCT == 0:
                product_id = ident(db, uuid.UUID(int=rng.getrandbits(128)))
                products.append(
                    (product_id, f"P-{i:06d}", f"Product {i}", "", "{}", "[]", now, now)
                )
            variants.append(
                (ident(db, uuid.UUID(int=rng.getrandbits(128))), product_id, sku, "{}", now)
            )
        cur.executemany(
            "INSERT INTO products (id, code, name, description, attributes, media, created_at,"
            f" updated_at) VALUES ({p},{p},{p},{p},{p},{p},{p},{p})",
            products,
        )
        cur.executemany(
            "INSERT INTO variants (id, product_id, sku, attributes, created_at)"
            f" VALUES ({p},{p},{p},{p},{p})",
            variants,
        )
        levels = [
            (sku, loc, rng.randint(0, stock), 0, 0, 0, now)
            for sku in chunk
            for loc in range(1, LOCATIONS + 1)
        ]
        if sqlite:
            cur.executemany(
                "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, allocated,"
                " damaged, updated_at) VALUES (?,?,?,?,?,?,?)",
                levels,
            )
        else:
            with cur.copy(
                "COPY stock_levels (sku, location_id, on_hand, reserved, allocated, damaged,"
                " updated_at) FROM STDIN"
            ) as copy:
                for row in levels:
                    copy.write_row(row)
        if sqlite:
            cur.execute("COMMIT")
            cur.execute("BEGIN IMMEDIATE")
        else:
            conn.commit()  # type: ignore[attr-defined]
    if sqlite:
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    else:
        cur.execute("ANALYZE")
        conn.commit()  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]
    return names


def _raw_availability(db: BenchDatabase, sample: list[str]) -> list[float]:
    """The same read as the service: the stock rows of the SKU with their locations and the
    channel's safety stock, in one statement and one transaction."""
    conn, p = raw_connection(db)
    latencies = []
    for sku in sample:
        started = time.perf_counter()
        cur = conn.cursor()  # type: ignore[attr-defined]
        cur.execute(
            "SELECT l.code, l.name, l.kind, l.latitude, l.longitude, l.capabilities,"
            " s.on_hand - s.reserved - s.allocated,"
            f" (SELECT quantity FROM safety_stock WHERE channel = {p} AND sku = {p}),"
            f" (SELECT quantity FROM safety_stock WHERE channel = {p} AND sku = '*')"
            " FROM locations l JOIN stock_levels s"
            f" ON s.location_id = l.id WHERE s.sku = {p} AND l.active",
            ("web", sku, "web", sku),
        )
        cur.fetchall()
        conn.commit()  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - started) * 1000)
    conn.close()  # type: ignore[attr-defined]
    return latencies


def availability(db: BenchDatabase) -> None:
    skus = int(os.environ.get("NAADLOOS_BENCH_SKUS", "100000"))
    started = time.perf_counter()
    names = _setup(db, skus)
    setup_s = time.perf_counter() - started
    key = admin_key(db)
    sample = random.Random(2).sample(names, min(2000, len(names)))
    near = f"{NEAR[0]},{NEAR[1]}"

    def ask(i: int) -> Request:
        return Request("GET", f"/v1/availability?sku={sample[i]}&channel=web&near={near}")

    with api_server(db.settings) as base:
        result = latencies_one_client(base, key, ask, len(sample))
    raw = _raw_availability(db, sample)
    report(
        f"inventory.availability_p99.{db.name}",
        percentile(result.latencies_ms, 99),
        "ms",
        percentile(raw, 99),
        p50_ms=round(percentile(result.latencies_ms, 50), 2),
        raw_p50_ms=round(percentile(raw, 50), 2),
        skus=skus,
        locations=LOCATIONS,
        stock_rows=skus * LOCATIONS,
        setup_s=round(setup_s),
        target_ms=5,
    )


RESERVE_SKUS = 400
RESERVE_STOCK = 5  # a unit each; 400 x 5 = 2,000 units for 3,000 attempts


def _raw_reservations(db: BenchDatabase, n: int) -> float:
    """The same transaction as `POST /v1/reservations`, serially, through the bare driver."""
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    cur = conn.cursor()  # type: ignore[attr-defined]
    rng = random.Random(9)
    started = time.perf_counter()
    for _ in range(n):
        sku = f"RAW-{rng.randrange(RESERVE_SKUS):04d}"
        now = datetime.now(UTC)
        rid = uuid.uuid4()
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            f"UPDATE stock_levels SET reserved = reserved + 1, updated_at = {p}"
            f" WHERE sku = {p} AND location_id = 1 AND on_hand - reserved - allocated >= 1"
            " RETURNING on_hand, reserved, allocated, damaged",
            (stamp(db, now), sku),
        )
        if cur.fetchone() is not None:
            cur.execute(
                "INSERT INTO reservations (id, channel, status, reference, expires_at, created_at,"
                f" updated_at, created_by) VALUES ({p},{p},{p},{p},{p},{p},{p},{p})",
                (
                    ident(db, rid),
                    "web",
                    "held",
                    None,
                    stamp(db, now + timedelta(minutes=15)),
                    stamp(db, now),
                    stamp(db, now),
                    "bench",
                ),
            )
            cur.execute(
                "INSERT INTO reservation_lines (reservation_id, line, sku, location_id, quantity)"
                f" VALUES ({p},{p},{p},{p},{p})",
                (ident(db, rid), 0, sku, 1, 1),
            )
            cur.execute(
                "INSERT INTO outbox_events (event_id, name, payload, occurred_at, attempts,"
                f" available_at) VALUES ({p},{p},{p},{p},{p},{p})",
                (
                    ident(db, uuid.uuid4()),
                    "StockChanged",
                    json.dumps({"sku": sku, "location": "store:s000", "cause": "reserved"}),
                    stamp(db, now),
                    0,
                    stamp(db, now),
                ),
            )
        cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    conn.close()  # type: ignore[attr-defined]
    return n / elapsed


def seed_store(db: BenchDatabase, cur: Any, now: Any, capabilities: str) -> Any:
    """Store `store:s000` (location id 1) and product P-1, whose id is returned, for
    benchmarks that add their own variants and stock."""
    p = "?" if db.name == "sqlite" else "%s"
    cur.execute(
        "INSERT INTO locations (code, name, kind, address, opening_hours, capabilities, active,"
        f" created_at) VALUES ({p},{p},{p},{p},{p},{p},{p},{p})",
        ("store:s000", "Store", "store", "{}", "{}", capabilities, True, now),
    )
    product = ident(db, uuid.uuid4())
    cur.execute(
        "INSERT INTO products (id, code, name, description, attributes, media, created_at,"
        f" updated_at) VALUES ({p},{p},{p},{p},{p},{p},{p},{p})",
        (product, "P-1", "Product", "", "{}", "[]", now, now),
    )
    return product


def _reserve_setup(db: BenchDatabase) -> None:
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    now = stamp(db, datetime.now(UTC))
    cur = conn.cursor()  # type: ignore[attr-defined]
    if sqlite:
        cur.execute("BEGIN IMMEDIATE")
    product = seed_store(db, cur, now, '["sell"]')
    for prefix in ("SKU", "RAW"):
        names = [f"{prefix}-{n:04d}" for n in range(RESERVE_SKUS)]
        cur.executemany(
            f"INSERT INTO variants (id, product_id, sku, attributes, created_at)"
            f" VALUES ({p},{p},{p},{p},{p})",
            [(ident(db, uuid.uuid4()), product, s, "{}", now) for s in names],
        )
        cur.executemany(
            "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, allocated, damaged,"
            f" updated_at) VALUES ({p},1,{p},0,0,0,{p})",
            [(s, RESERVE_STOCK, now) for s in names],
        )
    cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]


def _oversold(db: BenchDatabase) -> tuple[int, int]:
    """SKUs with more reserved than on hand, and the units reserved in all."""
    conn, _ = raw_connection(db)
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute("SELECT count(*) FROM stock_levels WHERE reserved > on_hand")
    over = cur.fetchone()[0]
    cur.execute("SELECT coalesce(sum(reserved), 0) FROM stock_levels WHERE sku LIKE 'SKU-%'")
    reserved = cur.fetchone()[0]
    conn.close()  # type: ignore[attr-defined]
    return int(over), int(reserved)


def reservations(db: BenchDatabase, attempts: int = 3000, layout: Layout = ONE_PROCESS) -> None:
    _reserve_setup(db)
    key = admin_key(db)
    rng = random.Random(4)
    picks = [f"SKU-{rng.randrange(RESERVE_SKUS):04d}" for _ in range(attempts + 200)]

    def reserve(i: int) -> Request:
        body = {"channel": "web", "sku": picks[i], "location": "store:s000", "qty": 1}
        return Request("POST", "/v1/reservations", body)

    with api_server(db.settings, layout) as base:
        asyncio.run(run_load(base, key, 200, lambda i: reserve(attempts + i), 8))  # warm-up
        result = asyncio.run(run_load(base, key, attempts, reserve, 8))
    over, reserved = _oversold(db)
    held = result.statuses.get(201, 0)
    assert set(result.statuses) <= {201, 409}, result.statuses
    ceiling = _raw_reservations(db, attempts)
    report(
        f"inventory.reservations_per_s.{db.name}{layout.suffix}",
        result.requests_per_s,
        "req/s",
        ceiling,
        p50_ms=round(percentile(result.latencies_ms, 50), 2),
        p99_ms=round(percentile(result.latencies_ms, 99), 2),
        held=held,
        refused_409=result.statuses.get(409, 0),
        oversold_skus=over,
        units_reserved=reserved,
        clients=8,
        layout=layout.name,
        target_ratio=0.5,
    )
    if over:
        raise SystemExit(f"OVERSOLD: {over} SKUs have more reserved than on hand")
