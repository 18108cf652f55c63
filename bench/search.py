"""Product search at scale: 100,000 products (NAADLOOS_BENCH_PRODUCTS scales it down) with Dutch
and English names, descriptions, brands, categories, two priced variants each, and stock at 10
stores. `GET /v1/search` over HTTP, one client, for five kinds of query: one word (thousands of
matches, all facets counted), two words, the start of a word, a category without words, and
words with "in stock at this store" and the location facet.

The ceiling is the very SQL the service runs for each query, recorded from the engine and
replayed through the bare driver in one transaction: what is left is the framework's share.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import event

from bench.common import BenchDatabase, api_server, ident, percentile, report, stamp
from bench.http_api import admin_key, raw_connection
from bench.loadgen import Request, latencies_one_client
from naadloos.catalog import analysis
from naadloos.catalog.service.search import SearchQuery
from naadloos.inventory.service import search
from naadloos.runtime import build_runtime

STORES = 10
CHUNK = 5_000
COLOURS = ["zwarte", "witte", "blauwe", "rode", "groene", "grijze", "black", "navy", "beige"]
MATERIALS = ["wollen", "katoenen", "leren", "linnen", "denim", "fleece", "wool", "cotton"]
NOUNS = [
    ("jas", "Jassen"),
    ("broek", "Broeken"),
    ("trui", "Truien"),
    ("jurk", "Jurken"),
    ("rok", "Rokken"),
    ("blouse", "Blouses"),
    ("overhemd", "Overhemden"),
    ("sokken", "Sokken"),
    ("schoenen", "Schoenen"),
    ("laarzen", "Laarzen"),
    ("sneakers", "Sneakers"),
    ("sjaal", "Accessoires"),
    ("muts", "Accessoires"),
    ("tas", "Tassen"),
    ("riem", "Accessoires"),
    ("vest", "Vesten"),
    ("bodywarmer", "Jassen"),
    ("jacket", "Jassen"),
    ("sweater", "Truien"),
    ("jeans", "Broeken"),
]
GROUPS = ["Dames", "Heren", "Kinderen", "Sport"]
FILLER = [
    "comfortabel",
    "duurzaam",
    "licht",
    "warm",
    "waterdicht",
    "ademend",
    "slim",
    "regular",
    "fit",
    "seizoen",
    "winter",
    "zomer",
    "classic",
    "tijdloos",
    "everyday",
    "essential",
    "soft",
    "stretch",
    "recycled",
    "gemaakt",
    "van",
    "met",
    "voor",
    "de",
    "het",
]


def _brands(rng: random.Random) -> list[str]:
    syllables = ["van", "der", "stijl", "noord", "zee", "urban", "fjord", "linde", "mo", "ka"]
    return sorted({"".join(rng.sample(syllables, 2)).title() for _ in range(80)})[:50]


def _rows(
    db: BenchDatabase, rng: random.Random, *, start: int, count: int, brands: list[str], now: Any
) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {
        "products": [],
        "variants": [],
        "prices": [],
        "product_search": [],
        "stock_levels": [],
    }
    for n in range(start, start + count):
        noun, category = rng.choice(NOUNS)
        colour, material, brand = rng.choice(COLOURS), rng.choice(MATERIALS), rng.choice(brands)
        name = f"{colour.capitalize()} {material} {noun} {rng.randint(1, 999)}"
        description = " ".join(rng.choices(FILLER, k=14))
        category = f"{rng.choice(GROUPS)} > {category}"
        product_id = uuid.UUID(int=rng.getrandbits(128))
        code = f"P-{n:06d}"
        rows["products"].append(
            (ident(db, product_id), code, name, description, brand, category, "{}", "[]", now, now)
        )
        price = rng.randrange(995, 30000, 100)
        skus = [(f"{code}-{size}", {"size": size}) for size in ("M", "L")]
        for sku, attributes in skus:
            variant_id = ident(db, uuid.UUID(int=rng.getrandbits(128)))
            rows["variants"].append(
                (variant_id, ident(db, product_id), sku, json.dumps(attributes), now)
            )
            rows["prices"].append(
                (ident(db, uuid.UUID(int=rng.getrandbits(128))), variant_id, price, now, now)
            )
            for store in range(1, STORES + 1):
                rows["stock_levels"].append((sku, store, rng.choice((0, 0, 1, 2, 3)), now))
        doc = analysis.document(
            code=code,
            name=name,
            description=description,
            brand=brand,
            category=category,
            attributes={},
            variants=[(sku, None, attributes) for sku, attributes in skus],
        )
        rows["product_search"].append((ident(db, product_id), *doc.values(), price, False))
    return rows


INSERTS = {
    "products": "products (id, code, name, description, brand, category, attributes, media,"
    " created_at, updated_at)",
    "variants": "variants (id, product_id, sku, attributes, created_at)",
    "prices": "prices (id, variant_id, amount, currency, vat_bp, valid_from, created_at)"
    " SELECT {p}, {p}, {p}, 'EUR', 2100, {p}, {p}",
    "product_search": "product_search (product_id, name, brand, category, codes, attributes,"
    " description, price, exceptions)",
    "stock_levels": "stock_levels (sku, location_id, on_hand, reserved, allocated, damaged,"
    " updated_at) SELECT {p}, {p}, {p}, 0, 0, 0, {p}",
}


def _setup(db: BenchDatabase, products: int) -> None:
    conn, p = raw_connection(db)
    sqlite = db.name == "sqlite"
    rng = random.Random(11)
    now = stamp(db, datetime.now(UTC))
    brands = _brands(rng)
    cur = conn.cursor()  # type: ignore[attr-defined]
    if sqlite:
        cur.execute("BEGIN IMMEDIATE")
    cur.executemany(
        "INSERT INTO locations (id, code, name, kind, address, opening_hours, capabilities,"
        f" active, created_at) VALUES ({p},{p},{p},'store','{{}}','{{}}',"
        f'\'["sell", "pickup"]\',{p},{p})',
        [(n, f"store:s{n:02d}", f"Store {n}", True, now) for n in range(1, STORES + 1)],
    )
    if not sqlite:
        cur.execute("SELECT setval('locations_id_seq', %s)", (STORES,))
    for start in range(0, products, CHUNK):
        rows = _rows(
            db, rng, start=start, count=min(CHUNK, products - start), brands=brands, now=now
        )
        for table, values in rows.items():
            into = INSERTS[table].format(p=p)
            if "SELECT" not in into:
                width = len(values[0])
                into += " VALUES (" + ",".join([p] * width) + ")"
            cur.executemany(f"INSERT INTO {into}", values)
        if sqlite:
            cur.execute("COMMIT")
            cur.execute("BEGIN IMMEDIATE")
        else:
            conn.commit()  # type: ignore[attr-defined]
    if sqlite:
        cur.execute("COMMIT")
    cur.execute("ANALYZE")
    if not sqlite:
        conn.commit()  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]


KINDS = ("one_word", "two_words", "prefix", "category", "in_stock")


def _queries(n: int) -> list[dict[str, Any]]:
    rng = random.Random(3)
    found: list[dict[str, Any]] = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        noun, category = rng.choice(NOUNS)
        if kind == "one_word":
            found.append({"q": noun})
        elif kind == "two_words":
            found.append({"q": f"{rng.choice(COLOURS)} {noun}"})
        elif kind == "prefix":
            found.append({"q": f"{rng.choice(MATERIALS)} {noun[:4]}"})
        elif kind == "category":
            found.append({"category": f"{rng.choice(GROUPS)} > {category}", "sort": "price_asc"})
        else:
            found.append(
                {
                    "q": f"{rng.choice(COLOURS)} {noun}",
                    "in_stock_at": f"store:s{rng.randint(1, STORES):02d}",
                    "location_facet": "true",
                }
            )
    return found


def _recorded_sql(db: BenchDatabase, queries: list[dict[str, Any]]) -> list[list[Any]]:
    """The statements and parameters the service sends for each query."""
    runtime = build_runtime(db.settings)
    recorded: list[list[Any]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):  # not BEGIN, PRAGMA
            recorded[-1].append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", record)
    for params in queries:
        recorded.append([])
        query = SearchQuery(
            text=params.get("q"),
            categories=(params["category"],) if "category" in params else (),
            sort=params.get("sort"),
        )
        with runtime.db.unit_of_work(write=False) as session:
            search.search(
                session,
                query,
                in_stock_at=params.get("in_stock_at"),
                location_facet="location_facet" in params,
            )
    runtime.db.dispose()
    return recorded


def _raw(db: BenchDatabase, recorded: list[list[Any]]) -> list[float]:
    conn, _ = raw_connection(db)
    if db.name == "postgresql":  # as naadloos' own connections (kit/db.py)
        conn.execute("SET jit = off")  # type: ignore[attr-defined]
        conn.commit()  # type: ignore[attr-defined]
    latencies = []
    for statements in recorded:
        started = time.perf_counter()
        cur = conn.cursor()  # type: ignore[attr-defined]
        if db.name == "sqlite":
            cur.execute("BEGIN")
        for statement, parameters in statements:
            cur.execute(statement, parameters)
            cur.fetchall()
        if db.name == "sqlite":
            cur.execute("COMMIT")
        else:
            conn.commit()  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - started) * 1000)
    conn.close()  # type: ignore[attr-defined]
    return latencies


def run(db: BenchDatabase) -> None:
    products = int(os.environ.get("NAADLOOS_BENCH_PRODUCTS", "100000"))
    started = time.perf_counter()
    _setup(db, products)
    setup_s = time.perf_counter() - started
    key = admin_key(db)
    queries = _queries(500)

    def ask(i: int) -> Request:
        return Request("GET", "/v1/search?" + urlencode(queries[i]))

    with api_server(db.settings) as base:
        result = latencies_one_client(base, key, ask, len(queries), warm_up=50)
    recorded = _recorded_sql(db, queries)
    _raw(db, recorded[:50])  # warm the caches as the HTTP run did
    raw = _raw(db, recorded)
    by_kind = {
        kind: [ms for i, ms in enumerate(result.latencies_ms) if KINDS[i % len(KINDS)] == kind]
        for kind in KINDS
    }
    report(
        f"catalog.search_p99.{db.name}",
        percentile(result.latencies_ms, 99),
        "ms",
        percentile(raw, 99),
        p50_ms=round(percentile(result.latencies_ms, 50), 2),
        raw_p50_ms=round(percentile(raw, 50), 2),
        p99_by_kind_ms={kind: round(percentile(ms, 99), 1) for kind, ms in by_kind.items()},
        products=products,
        setup_s=round(setup_s),
    )
