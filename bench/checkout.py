"""Complete checkouts over HTTP (issue 5): create a cart, add two lines, check out with click &
collect, from 8 concurrent clients, on SKUs with little stock so that buyers run out and some
flows end in a 409. Afterwards no SKU may be oversold and every allocated unit belongs to an
order line. The ceiling is the same writes through the bare driver, serially, four
transactions a checkout: the cart; each line's conditional hold with its reservation, its line
and their events; the checkout's claim, the allocations, the order with its lines and history,
and their events.
"""

from __future__ import annotations

import asyncio
import json
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
from bench.inventory import seed_store
from bench.loadgen import Request, Session, run_flows

SKUS = 400
STOCK = 4  # units of each SKU: 1,600 for 1,000 checkouts of two lines
CHECKOUTS = 1000
WARM_UP = 100
CLIENTS = 8
PLACE = "store:s000"


def _setup(db: BenchDatabase) -> None:
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    now = stamp(db, datetime.now(UTC))
    cur = conn.cursor()  # type: ignore[attr-defined]
    if sqlite:
        cur.execute("BEGIN IMMEDIATE")
    product = seed_store(db, cur, now, '["sell", "ship", "pickup"]')
    for prefix in ("SKU", "RAW", "WARM"):
        names = [f"{prefix}-{n:04d}" for n in range(SKUS)]
        variants = [(ident(db, uuid.uuid4()), s) for s in names]
        cur.executemany(
            f"INSERT INTO variants (id, product_id, sku, attributes, created_at)"
            f" VALUES ({p},{p},{p},{p},{p})",
            [(vid, product, s, "{}", now) for vid, s in variants],
        )
        cur.executemany(
            "INSERT INTO prices (id, variant_id, channel, amount, currency, vat_bp, valid_from,"
            f" created_at, created_by) VALUES ({p},{p},NULL,{p},'EUR',2100,{p},{p},'bench')",
            [(ident(db, uuid.uuid4()), vid, 1995, now, now) for vid, _ in variants],
        )
        cur.executemany(
            "INSERT INTO stock_levels (sku, location_id, on_hand, reserved, allocated, damaged,"
            f" updated_at) VALUES ({p},1,{p},0,0,0,{p})",
            [(s, STOCK if prefix != "WARM" else 1000, now) for s in names],
        )
    cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]


def _baskets(prefix: str, n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [
        (f"{prefix}-{a:04d}", f"{prefix}-{b:04d}")
        for a, b in (rng.sample(range(SKUS), 2) for _ in range(n))
    ]


def _flow(baskets: list[tuple[str, str]]) -> Any:
    async def buy(http: Session, i: int) -> str:
        status, cart = await http.call(
            Request("POST", "/v1/carts", {"channel": "web", "location": PLACE})
        )
        if status != 201:
            return f"cart {status}"
        cart_id = cart["id"]  # type: ignore[index]
        for sku in baskets[i]:
            status, _ = await http.call(
                Request("POST", f"/v1/carts/{cart_id}/lines", {"sku": sku, "qty": 1})
            )
            if status == 409:
                return "no stock"
            if status != 200:
                return f"line {status}"
        status, _ = await http.call(
            Request(
                "POST",
                f"/v1/carts/{cart_id}/checkout",
                {"fulfilment": "collect", "pickup_location": PLACE},
                headers=(("Idempotency-Key", f"checkout-{cart_id}"),),
            )
        )
        return "ordered" if status == 201 else f"checkout {status}"

    return buy


def _raw_checkouts(db: BenchDatabase, baskets: list[tuple[str, str]]) -> float:
    """The writes of `_flow`, serially through the bare driver: checkouts per second."""
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    cur = conn.cursor()  # type: ignore[attr-defined]

    def begin() -> None:
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")

    def commit() -> None:
        cur.execute("COMMIT") if sqlite else conn.commit()  # type: ignore[attr-defined]

    def event(name: str, payload: dict[str, Any], now: Any) -> None:
        cur.execute(
            "INSERT INTO outbox_events (event_id, name, payload, occurred_at, attempts,"
            f" available_at) VALUES ({p},{p},{p},{p},{p},{p})",
            (ident(db, uuid.uuid4()), name, json.dumps(payload), now, 0, now),
        )

    started = time.perf_counter()
    for n, basket in enumerate(baskets):
        t = datetime.now(UTC)
        now = stamp(db, t)
        cart = ident(db, uuid.uuid4())
        begin()
        cur.execute(
            "INSERT INTO carts (id, code, channel, location_id, status, created_at, updated_at,"
            f" created_by) VALUES ({p},{p},'web',1,'open',{p},{p},'bench')",
            (cart, f"R{n:07d}", now, now),
        )
        event("CartUpdated", {"cart_id": str(cart), "lines": []}, now)
        commit()
        holds: list[tuple[str, Any]] = []
        for sku in basket:
            begin()
            cur.execute(
                f"UPDATE carts SET updated_at = {p} WHERE id = {p} AND status = 'open'", (now, cart)
            )
            cur.execute(
                f"UPDATE stock_levels SET reserved = reserved + 1, updated_at = {p}"
                f" WHERE sku = {p} AND location_id = 1 AND on_hand - reserved - allocated >= 1"
                " RETURNING on_hand",
                (now, sku),
            )
            if cur.fetchone() is None:
                commit()
                break
            rid = ident(db, uuid.uuid4())
            cur.execute(
                "INSERT INTO reservations (id, channel, status, reference, expires_at,"
                f" created_at, updated_at, created_by) VALUES ({p},'web','held',{p},{p},{p},{p},'bench')",
                (rid, f"cart:{cart}", stamp(db, t + timedelta(minutes=30)), now, now),
            )
            cur.execute(
                "INSERT INTO reservation_lines (reservation_id, line, sku, location_id, quantity)"
                f" VALUES ({p},0,{p},1,1)",
                (rid, sku),
            )
            event("StockChanged", {"sku": sku, "cause": "reserved"}, now)
            cur.execute(
                "INSERT INTO cart_lines (cart_id, sku, location_id, quantity, reservation_id,"
                f" added_at) VALUES ({p},{p},1,1,{p},{p})",
                (cart, sku, rid, now),
            )
            event("CartUpdated", {"cart_id": str(cart), "sku": sku}, now)
            commit()
            holds.append((sku, rid))
        else:
            begin()
            cur.execute(
                f"UPDATE carts SET status = 'checked_out', updated_at = {p}"
                f" WHERE id = {p} AND status = 'open'",
                (now, cart),
            )
            order = ident(db, uuid.uuid4())
            for sku, rid in sorted(holds):
                cur.execute(
                    f"UPDATE reservations SET status = 'allocated', updated_at = {p}"
                    f" WHERE id = {p} AND status = 'held'",
                    (now, rid),
                )
                cur.execute(
                    "UPDATE stock_levels SET reserved = reserved - 1, allocated = allocated + 1,"
                    f" updated_at = {p} WHERE sku = {p} AND location_id = 1",
                    (now, sku),
                )
                event("StockChanged", {"sku": sku, "cause": "allocated"}, now)
            cur.execute(
                "INSERT INTO orders (id, number, cart_id, channel, status, fulfilment,"
                " pickup_location_id, pickup_code, contact, currency, total, vat_total,"
                f" payments, created_at, updated_at) VALUES ({p},{p},{p},'web','placed',"
                f"'collect',1,{p},'{{}}','EUR',3990,692,'[]',{p},{p})",
                (order, f"RAW{n:07d}", cart, "123456", now, now),
            )
            cur.executemany(
                "INSERT INTO order_lines (order_id, line, sku, location_id, quantity, unit_price,"
                f" vat_rate, reservation_id) VALUES ({p},{p},{p},1,1,1995,'21',{p})",
                [(order, i, sku, rid) for i, (sku, rid) in enumerate(holds)],
            )
            cur.execute(
                "INSERT INTO order_changes (order_id, seq, to_status, by, channel, details, at)"
                f" VALUES ({p},1,'placed','bench','web','{{}}',{p})",
                (order, now),
            )
            cur.execute(f"UPDATE carts SET order_id = {p} WHERE id = {p}", (order, cart))
            event("OrderPlaced", {"order_id": str(order)}, now)
            commit()
    elapsed = time.perf_counter() - started
    conn.close()  # type: ignore[attr-defined]
    return len(baskets) / elapsed


def _oversold(db: BenchDatabase) -> tuple[int, int, int]:
    """SKUs with more taken than on hand; units allocated; units on order lines."""
    conn, _ = raw_connection(db)
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute("SELECT count(*) FROM stock_levels WHERE reserved + allocated > on_hand")
    over = int(cur.fetchone()[0])
    cur.execute("SELECT coalesce(sum(allocated), 0) FROM stock_levels WHERE sku LIKE 'SKU-%'")
    allocated = int(cur.fetchone()[0])
    cur.execute("SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE sku LIKE 'SKU-%'")
    ordered = int(cur.fetchone()[0])
    conn.close()  # type: ignore[attr-defined]
    return over, allocated, ordered


def run(
    db: BenchDatabase,
    checkouts: int = CHECKOUTS,
    warm_up: int = WARM_UP,
    layout: Layout = ONE_PROCESS,
) -> None:
    _setup(db)
    key = admin_key(db)
    baskets = _baskets("SKU", checkouts, 11)
    with api_server(db.settings, layout) as base:
        asyncio.run(run_flows(base, key, warm_up, _flow(_baskets("WARM", warm_up, 12)), CLIENTS))
        result = asyncio.run(run_flows(base, key, checkouts, _flow(baskets), CLIENTS))
    over, allocated, ordered = _oversold(db)
    unexpected = set(result.outcomes) - {"ordered", "no stock"}
    if unexpected:
        raise SystemExit(f"checkout flows ended unexpectedly: {result.outcomes}")
    ceiling = _raw_checkouts(db, _baskets("RAW", checkouts, 11))
    report(
        f"orders.checkouts_per_s.{db.name}{layout.suffix}",
        result.flows_per_s,
        "checkouts/s",
        ceiling,
        p50_ms=round(percentile(result.latencies_ms, 50), 2),
        p99_ms=round(percentile(result.latencies_ms, 99), 2),
        ordered=result.outcomes.get("ordered", 0),
        out_of_stock=result.outcomes.get("no stock", 0),
        oversold_skus=over,
        allocated_units=allocated,
        ordered_units=ordered,
        clients=CLIENTS,
        layout=layout.name,
        target_ratio=0.4,
        target_p99_ms=50,
    )
    if over or allocated != ordered:
        raise SystemExit(
            f"OVERSOLD or lost: {over} SKUs over, {allocated} allocated, {ordered} ordered"
        )
