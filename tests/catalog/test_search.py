"""Product search as a shopper and a store associate use it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from naadloos.catalog import analysis
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory, fields


def product(code: str, name: str, price: int, **extra: Any) -> dict[str, Any]:
    skus = extra.pop("skus", [f"{code}-M"])
    return {
        "code": code,
        "name": name,
        "variants": [{"sku": s, "price": {"amount": price, "vat_rate": "21"}} for s in skus],
        **extra,
    }


CATALOG = [
    product(
        "P-1",
        "Zwarte wollen jas",
        12995,
        brand="Stijl",
        category="Dames > Jassen",
        description="Warme jas voor de winter",
        attributes={"material": "wol"},
        skus=["JAS-ZW-M", "JAS-ZW-L"],
    ),
    product(
        "P-2",
        "Leather jacket",
        19995,
        brand="Urban",
        category="Heren > Jassen",
        description="Classic biker jacket",
    ),
    product(
        "P-3",
        "Hardloopschoenen Sprint",
        8995,
        brand="Stride",
        category="Sport > Schoenen",
        attributes={"kleur": "blauw"},
    ),
    product(
        "P-4",
        "Sneaker Classic wit",
        6995,
        brand="Stride",
        category="Heren > Schoenen",
        description="Witte leren sneakers",
        skus=["SNK-42", "SNK-43"],
    ),
    product(
        "P-5",
        "Sokken 3-pack",
        1295,
        brand="Stijl",
        category="Dames > Accessoires",
        description="Katoenen sokken",
    ),
    product("P-6", "Geïsoleerde bodywarmer", 7995, brand="Urban", category="Heren > Jassen"),
]


@pytest.fixture
def shop(client: TestClient, api_key: KeyFactory) -> dict[str, str]:
    key = api_key("catalog:write", "inventory:write")
    for body in CATALOG:
        response = client.post("/v1/products", json=body, headers=key)
        assert response.status_code == 201, response.text
    for code in ("store:utrecht", "store:amsterdam"):
        response = client.post(
            "/v1/locations", json={"code": code, "name": code, "kind": "store"}, headers=key
        )
        assert response.status_code == 201, response.text
    return key


def find(client: TestClient, key: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/v1/search", params=params, headers=key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(result: dict[str, Any]) -> list[str]:
    return [item["code"] for item in result["items"]]


def facet(result: dict[str, Any], name: str) -> dict[str, int]:
    return {entry["value"]: entry["count"] for entry in result["facets"][name]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("jassen", ["P-1", "P-6", "P-2"]),  # Dutch plural finds "jas"; the name weighs most
        ("jackets", ["P-2"]),  # English plural
        ("zwart", ["P-1"]),  # "Zwarte", inflected
        ("geisoleerd", ["P-6"]),  # without the diaeresis
        ("hardlo", ["P-3"]),  # the start of a word, while typing
        ("jas voor dames", ["P-1"]),  # "voor" says nothing
        ("WOL", ["P-1"]),  # an attribute value, any case
        ("snk-43", ["P-4"]),  # a SKU, as the associate types it
        ("leren sneakers", ["P-4"]),  # from the description
        ("jas blauw", []),  # every word must match
    ],
)
def test_words_find_products_in_dutch_and_english(
    client: TestClient, shop: dict[str, str], query: str, expected: list[str]
) -> None:
    result = find(client, shop, q=query)

    assert codes(result)[: len(expected)] == expected
    assert result["total"] == len(expected)


def test_the_name_weighs_more_than_the_category(client: TestClient, shop: dict[str, str]) -> None:
    result = find(client, shop, q="jas")

    assert codes(result)[0] == "P-1"
    scores = [item["score"] for item in result["items"]]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1] > 0


def test_a_hit_carries_its_skus_and_lowest_price(client: TestClient, shop: dict[str, str]) -> None:
    [hit] = find(client, shop, q="zwarte jas")["items"]

    assert hit["skus"] == ["JAS-ZW-L", "JAS-ZW-M"]
    assert hit["price"]["amount"] == 12995
    assert hit["brand"] == "Stijl"


def test_facets_count_everything_that_matches(client: TestClient, shop: dict[str, str]) -> None:
    result = find(client, shop)

    assert result["total"] == len(CATALOG)
    assert codes(result) == ["P-6", "P-3", "P-2", "P-4", "P-5", "P-1"]  # by name
    assert facet(result, "brand") == {"Stijl": 2, "Stride": 2, "Urban": 2}
    assert facet(result, "category")["Heren > Jassen"] == 2
    ranges = {(r["min_amount"], r["max_amount"]): r["count"] for r in result["facets"]["price"]}
    assert ranges == {(0, 2500): 1, (5000, 10000): 3, (10000, 20000): 2}
    assert result["facets"]["location"] is None


def test_a_facet_leaves_out_its_own_filter(client: TestClient, shop: dict[str, str]) -> None:
    result = find(client, shop, brand="Stride")

    assert codes(result) == ["P-3", "P-4"]
    assert facet(result, "brand") == {"Stijl": 2, "Stride": 2, "Urban": 2}  # the other brands
    assert facet(result, "category") == {"Sport > Schoenen": 1, "Heren > Schoenen": 1}


def test_filters_combine(client: TestClient, shop: dict[str, str]) -> None:
    assert codes(find(client, shop, category="Heren")) == ["P-6", "P-2", "P-4"]
    assert codes(find(client, shop, category="Heren > Jassen", brand="Urban", q="jack")) == ["P-2"]
    assert codes(find(client, shop, brand=["Stijl", "Urban"], category="Dames")) == ["P-5", "P-1"]
    cheap_first = find(client, shop, price_min=5000, price_max=8995, sort="price_asc")
    assert codes(cheap_first) == ["P-4", "P-6", "P-3"]
    assert codes(find(client, shop, sort="price_desc", limit=2)) == ["P-2", "P-1"]
    assert codes(find(client, shop, sort="price_desc", limit=2, offset=2)) == ["P-3", "P-6"]


def test_a_channel_price_exception_is_what_its_shoppers_filter_on(
    client: TestClient, shop: dict[str, str]
) -> None:
    response = client.put(
        "/v1/variants/P-2-M/price",
        params={"channel": "app"},
        json={"amount": 9995, "vat_rate": "21"},
        headers=shop,
    )
    assert response.status_code == 200, response.text

    assert codes(find(client, shop, price_max=10000, channel="app", q="jacket")) == ["P-2"]
    assert codes(find(client, shop, price_max=10000, q="jacket")) == []
    [hit] = find(client, shop, channel="app", q="jacket")["items"]
    assert hit["price"]["amount"] == 9995


def test_in_stock_at_a_store_counts_what_is_free_to_sell(
    client: TestClient, shop: dict[str, str]
) -> None:
    for sku, location, qty in [
        ("JAS-ZW-M", "store:utrecht", 1),
        ("SNK-42", "store:utrecht", 2),
        ("SNK-43", "store:amsterdam", 1),
    ]:
        movement = {"kind": "receipt", "sku": sku, "location": location, "quantity": qty}
        assert client.post("/v1/stock/movements", json=movement, headers=shop).status_code == 201

    utrecht = find(client, shop, in_stock_at="store:utrecht", location_facet="true")
    assert codes(utrecht) == ["P-4", "P-1"]
    assert facet(utrecht, "location") == {"store:utrecht": 2, "store:amsterdam": 1}

    reservation = {
        "lines": [{"sku": "JAS-ZW-M", "location": "store:utrecht", "qty": 1}],
        "channel": "web",
        "ttl_seconds": 600,
    }
    response = client.post("/v1/reservations", json=reservation, headers=shop)
    assert response.status_code == 201, response.text
    assert codes(find(client, shop, in_stock_at="store:utrecht")) == ["P-4"]  # the last one held

    safety = {"channel": "app", "quantity": 2}
    assert client.put("/v1/stock/safety", json=safety, headers=shop).status_code == 200
    assert codes(find(client, shop, in_stock_at="store:utrecht", channel="app")) == []
    assert codes(find(client, shop, in_stock_at="store:utrecht", channel="web")) == ["P-4"]


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"in_stock_at": "store:nowhere"}, "in_stock_at", 404),
        ({"channel": "fax"}, "channel", 404),
        ({"price_min": 5000, "price_max": 100}, "price_max", 422),
        ({"price_min": -1}, "price_min", 422),
        ({"price_edges": "10,abc"}, "price_edges", 422),
        ({"price_edges": "5000,2500"}, "price_edges", 422),
        ({"limit": 0}, "limit", 422),
        ({"offset": 20_000}, "offset", 422),
        ({"sort": "cheapest"}, "sort", 422),
        ({"brand": [f"B{n}" for n in range(51)]}, "brand", 422),
        ({"category": [f"C{n}" for n in range(51)]}, "category", 422),
        ({"price_edges": ",".join(str(n) for n in range(1, 22))}, "price_edges", 422),
    ],
)
def test_bad_search_input_names_the_field(
    client: TestClient, shop: dict[str, str], params: dict[str, Any], field: str, status: int
) -> None:
    response = client.get("/v1/search", params=params, headers=shop)

    assert response.status_code == status, response.text
    problem = response.json()
    assert field in [name.removeprefix("query.") for name in fields(problem)], problem


def test_a_query_without_words_lists_everything(client: TestClient, shop: dict[str, str]) -> None:
    assert find(client, shop, q="?! --")["total"] == len(CATALOG)


def test_search_needs_the_catalog_scope(
    client: TestClient, shop: dict[str, str], api_key: KeyFactory
) -> None:
    response = client.get("/v1/search", params={"q": "jas"}, headers=api_key("track"))

    assert response.status_code == 403


def test_the_index_is_rebuilt_from_the_products(runtime: Runtime, shop: dict[str, str]) -> None:
    from naadloos.catalog.service import search, search_index  # noqa: PLC0415 - only this test rebuilds

    with runtime.db.unit_of_work() as session:
        session.execute(text("UPDATE product_search SET name = '', description = ''"))
    with runtime.db.unit_of_work() as session:
        assert search.search(session, search.SearchQuery(text="zwarte")).total == 0
        assert search_index.reindex(session) == len(CATALOG)
    with runtime.db.unit_of_work(write=False) as session:
        assert search.search(session, search.SearchQuery(text="zwarte")).total == 1


def test_postgresql_answers_from_its_full_text_index(
    runtime: Runtime, shop: dict[str, str]
) -> None:
    if runtime.db.dialect != "postgresql":
        pytest.skip("the GIN index is PostgreSQL's")
    from naadloos.catalog.service import search  # noqa: PLC0415

    with runtime.db.unit_of_work(write=False) as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        hits = search._text_hits(session, analysis.query_terms("jas"))
        sql = select(hits).compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(row[0] for row in session.connection().exec_driver_sql(f"EXPLAIN {sql}"))

    assert "ix_product_search_document" in plan, plan


def test_analysis_keeps_words_and_their_stems() -> None:
    assert analysis.forms("jassen") == ("jassen", "jas")
    assert analysis.forms("jackets") == ("jackets", "jacket")
    assert analysis.words("Geïsoleerde T-shirt") == ["geisoleerde", "t", "shirt"]
    [term] = analysis.query_terms("de jas")
    assert term.prefix == "jas"
    assert analysis.fts5_query(analysis.query_terms("zwarte jas")) == (
        '("zwarte" OR "zwart") AND ("jas" OR "jas"*)'
    )
    assert analysis.tsquery(analysis.query_terms("zwarte jas")) == (
        "(zwarte | zwart) & (jas | jas:*)"
    )


def test_a_changed_product_is_found_by_its_new_words_only(
    client: TestClient, shop: dict[str, str]
) -> None:
    response = client.patch(
        "/v1/products/P-5", json={"name": "Wollen huissokken", "brand": None}, headers=shop
    )
    assert response.status_code == 200, response.text

    assert codes(find(client, shop, q="huissok")) == ["P-5"]
    assert codes(find(client, shop, q="3-pack")) == []
    assert facet(find(client, shop), "brand") == {"Stride": 2, "Urban": 2, "Stijl": 1}


def test_a_scheduled_price_counts_from_its_start(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    from naadloos.catalog.service import prices  # noqa: PLC0415

    start = datetime.now(UTC) + timedelta(seconds=1)
    response = client.put(
        "/v1/variants/P-5-M/price",
        json={"amount": 4995, "vat_rate": "21", "valid_from": start.isoformat()},
        headers=shop,
    )
    assert response.status_code == 200, response.text
    assert codes(find(client, shop, price_min=4000, price_max=6000)) == []

    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 0.05)

    # Right at once, before the job has kept the new price on the search row ...
    assert codes(find(client, shop, price_min=4000, price_max=6000)) == ["P-5"]
    with runtime.db.unit_of_work() as session:
        assert prices.refresh_due_search_prices(session) == 1
    # ... and after.
    with runtime.db.unit_of_work(write=False) as session:
        kept = session.execute(text("SELECT price, price_until FROM product_search")).all()
    assert (4995, None) in kept
    assert codes(find(client, shop, price_min=4000, price_max=6000)) == ["P-5"]
