from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from naadloos.catalog import gtin
from naadloos.kit.models import OutboxEvent
from naadloos.runtime import Runtime
from tests.conftest import fields


def jacket(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "P-1001",
        "name": "Regenjas Wadden",
        "description": "Waterdichte jas voor de fiets",
        "brand": "Stijl",
        "category": "Dames > Jassen",
        "attributes": {"material": "gerecycled polyester"},
        "media": ["https://cdn.example.nl/p-1001.jpg"],
        "variants": [
            {
                "sku": "JAS-M",
                "gtin": "8712345678906",
                "attributes": {"size": "M"},
                "price": {"amount": 8995, "vat_rate": "21"},
            },
            {"sku": "JAS-L", "gtin": "036000291452", "attributes": {"size": "L"}},
        ],
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("code", ["4006381333931", "036000291452", "96385074", "08712345678906"])
def test_valid_gtins_pass_the_check_digit(code: str) -> None:
    assert gtin.problem(code) is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("4006381333932", "check digit is 2, it should be 1"),
        ("40063813339", "8, 12, 13 or 14 digits"),
        ("40063813339a1", "digits only"),
    ],
)
def test_invalid_gtins_say_what_is_wrong(code: str, why: str) -> None:
    problem = gtin.problem(code)
    assert problem is not None
    assert why in problem


def test_a_product_with_variants_and_one_price(client: TestClient, admin: dict[str, str]) -> None:
    created = client.post("/v1/products", json=jacket(), headers=admin)

    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/v1/products/P-1001"
    product = client.get("/v1/products/P-1001", headers=admin).json()
    by_sku = {v["sku"]: v for v in product["variants"]}
    assert by_sku["JAS-M"]["price"]["amount"] == 8995
    assert by_sku["JAS-M"]["price"]["vat_rate"] == "21.00"
    assert by_sku["JAS-M"]["price"]["currency"] == "EUR"
    assert by_sku["JAS-L"]["price"] is None
    assert product["media"] == ["https://cdn.example.nl/p-1001.jpg"]


def test_an_invalid_gtin_is_refused_and_nothing_is_stored(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = jacket()
    body["variants"][1]["gtin"] = "036000291453"

    response = client.post("/v1/products", json=body, headers=admin)

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_gtin"
    assert problem["errors"] == [
        {"field": "variants.1.gtin", "message": "check digit is 3, it should be 2"}
    ]
    assert client.get("/v1/products/P-1001", headers=admin).status_code == 404


def test_a_price_cannot_start_in_the_past(client: TestClient, admin: dict[str, str]) -> None:
    body = jacket()
    body["variants"][0]["price"]["valid_from"] = "2020-01-01T00:00:00Z"

    response = client.post("/v1/products", json=body, headers=admin)

    assert response.status_code == 422
    assert fields(response.json()) == ["variants.0.price.valid_from"]
    assert client.get("/v1/products/P-1001", headers=admin).status_code == 404


def test_a_scheduled_price_starts_later(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/v1/products", json=jacket(), headers=admin)

    later = client.put(
        "/v1/variants/JAS-M/price",
        json={"amount": 5995, "vat_rate": "21", "valid_from": "2099-01-01T00:00:00Z"},
        headers=admin,
    )

    assert later.status_code == 200, later.text
    assert client.get("/v1/variants/JAS-M/price", headers=admin).json()["amount"] == 8995
    history = client.get("/v1/variants/JAS-M/prices", headers=admin).json()
    assert [p["amount"] for p in history] == [5995, 8995]


def test_a_sku_or_gtin_belongs_to_one_variant(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/v1/products", json=jacket(), headers=admin).status_code == 201
    again = jacket(code="P-1002")
    again["variants"] = [{"sku": "JAS-M"}]
    same_gtin = jacket(code="P-1003")
    # The UPC-A of JAS-L written as an EAN-13 is the same code.
    same_gtin["variants"] = [{"sku": "OTHER", "gtin": "0036000291452"}]

    sku_taken = client.post("/v1/products", json=again, headers=admin)
    gtin_taken = client.post("/v1/products", json=same_gtin, headers=admin)

    assert (sku_taken.status_code, sku_taken.json()["code"]) == (409, "sku_exists")
    assert sku_taken.json()["field"] == "variants.0.sku"
    assert (gtin_taken.status_code, gtin_taken.json()["code"]) == (409, "gtin_exists")


def test_one_price_everywhere_unless_an_exception_is_made_and_listed(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/v1/products", json=jacket(), headers=admin)

    base = client.get("/v1/variants/JAS-M/price", params={"channel": "app"}, headers=admin)
    assert base.json()["amount"] == 8995
    assert base.json()["channel"] is None
    assert client.get("/v1/prices/exceptions", headers=admin).json() == []

    made = client.put(
        "/v1/variants/JAS-M/price",
        params={"channel": "app"},
        json={"amount": 9495, "vat_rate": "21"},
        headers=admin,
    )
    assert made.status_code == 200, made.text

    assert (
        client.get("/v1/variants/JAS-M/price", params={"channel": "app"}, headers=admin).json()[
            "amount"
        ]
        == 9495
    )
    assert (
        client.get("/v1/variants/JAS-M/price", params={"channel": "web"}, headers=admin).json()[
            "amount"
        ]
        == 8995
    )
    [exception] = client.get("/v1/prices/exceptions", headers=admin).json()
    assert exception["sku"] == "JAS-M"
    assert exception["channel"] == "app"
    assert (exception["amount"], exception["base_amount"]) == (9495, 8995)

    ended = client.delete("/v1/variants/JAS-M/price", params={"channel": "app"}, headers=admin)
    assert ended.status_code == 204
    assert client.get("/v1/prices/exceptions", headers=admin).json() == []
    assert (
        client.get("/v1/variants/JAS-M/price", params={"channel": "app"}, headers=admin).json()[
            "amount"
        ]
        == 8995
    )


def test_a_new_price_keeps_the_old_one_in_the_history(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/v1/products", json=jacket(), headers=admin)

    client.put("/v1/variants/JAS-M/price", json={"amount": 6995, "vat_rate": "21"}, headers=admin)
    client.put("/v1/variants/JAS-M/price", json={"amount": 6995, "vat_rate": "21"}, headers=admin)

    history = client.get("/v1/variants/JAS-M/prices", headers=admin).json()
    assert [p["amount"] for p in history] == [6995, 8995]  # the same price twice is one change
    assert client.get("/v1/variants/JAS-M/price", headers=admin).json()["amount"] == 6995


@pytest.mark.parametrize(
    ("body", "params", "field"),
    [
        ({"amount": -1, "vat_rate": "21"}, {}, "body.amount"),
        ({"amount": 100, "vat_rate": "121"}, {}, "body.vat_rate"),
        ({"amount": 100, "vat_rate": "21", "currency": "XYZ"}, {}, "body.currency"),
        ({"amount": 100, "vat_rate": "21"}, {"channel": "nowhere"}, "channel"),
        ({"amount": 100, "vat_rate": "21", "currency": "GBP"}, {"channel": "app"}, "body.currency"),
        (
            {"amount": 100, "vat_rate": "21", "valid_from": "2020-01-01T00:00:00Z"},
            {"channel": "app"},
            "body.valid_from",
        ),
    ],
)
def test_bad_prices_name_the_field(
    client: TestClient,
    admin: dict[str, str],
    body: dict[str, Any],
    params: dict[str, str],
    field: str,
) -> None:
    client.post("/v1/products", json=jacket(), headers=admin)

    response = client.put("/v1/variants/JAS-M/price", json=body, params=params, headers=admin)

    assert 400 <= response.status_code < 500
    assert fields(response.json()) == [field]
    history = client.get("/v1/variants/JAS-M/prices", headers=admin).json()
    assert [p["amount"] for p in history] == [8995]


def test_an_unknown_sku_has_no_price(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/v1/variants/NOPE/price", headers=admin)

    assert (response.status_code, response.json()["code"]) == (404, "variant_not_found")


def test_a_product_changes_only_where_asked(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    assert client.post("/v1/products", json=jacket(), headers=admin).status_code == 201

    changed = client.patch(
        "/v1/products/P-1001",
        json={"description": "Licht en waterdicht", "category": None},
        headers=admin,
    )

    assert changed.status_code == 200, changed.text
    product = changed.json()
    assert product["description"] == "Licht en waterdicht"
    assert product["category"] is None
    assert product["name"] == "Regenjas Wadden"
    assert product["updated_at"] > product["created_at"]
    assert [v["sku"] for v in product["variants"]] == ["JAS-L", "JAS-M"]
    with runtime.db.unit_of_work(write=False) as session:
        [payload] = session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.name == "ProductUpdated")
        ).all()
    assert payload["fields"] == ["category", "description"]


BAD_CHANGES = [
    ("P-1001", {"name": None}, 422, "name"),
    ("P-1001", {"sku": "X"}, 422, "body.sku"),
    ("P-404", {"name": "Jas"}, 404, "code"),
]


@pytest.mark.parametrize("case", BAD_CHANGES)
def test_a_bad_product_change_names_the_field_and_changes_nothing(
    client: TestClient, admin: dict[str, str], case: tuple[str, dict[str, Any], int, str]
) -> None:
    code, body, status, field = case
    assert client.post("/v1/products", json=jacket(), headers=admin).status_code == 201

    response = client.patch(f"/v1/products/{code}", json=body, headers=admin)

    assert response.status_code == status, response.text
    assert fields(response.json()) == [field]
    assert client.get("/v1/products/P-1001", headers=admin).json()["name"] == "Regenjas Wadden"
