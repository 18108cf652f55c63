from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from naadloos.inventory.models import StockLevel, StockMovement
from naadloos.runtime import Runtime
from tests.conftest import fields
from tests.inventory.conftest import level, move


def test_a_location_says_what_it_does(client: TestClient, shop: dict[str, str]) -> None:
    store = client.get("/v1/locations/store:utrecht", headers=shop).json()
    warehouse = client.get("/v1/locations/dc:tilburg", headers=shop).json()

    assert store["capabilities"] == ["sell", "ship", "pickup", "returns"]
    assert store["opening_hours"]["sat"] == ["10:00-17:00"]
    assert warehouse["capabilities"] == ["ship", "returns"]


def test_the_ledger_lists_movements_oldest_first_with_their_locations(
    client: TestClient, shop: dict[str, str]
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)
    move(client, shop, "receipt", "JAS-M", "store:amsterdam", 2)
    move(client, shop, "damage", "JAS-M", "store:utrecht", 1)

    listed = client.get("/v1/stock/movements", params={"sku": "JAS-M"}, headers=shop).json()
    there = client.get(
        "/v1/stock/movements", params={"location": "store:amsterdam"}, headers=shop
    ).json()

    assert [(m["kind"], m["location"], m["quantity"]) for m in listed["items"]] == [
        ("receipt", "store:utrecht", 3),
        ("receipt", "store:amsterdam", 2),
        ("damage", "store:utrecht", -1),
    ]
    assert [m["location"] for m in there["items"]] == ["store:amsterdam"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"opening_hours": {"maandag": ["09:00-18:00"]}}, "body.opening_hours"),
        ({"opening_hours": {"mon": ["18:00-09:00"]}}, "body.opening_hours"),
        ({"opening_hours": {"mon": ["9-18"]}}, "body.opening_hours.mon.0"),
        ({"latitude": 52.1}, "body.longitude"),
        ({"kind": "locker", "capabilities": ["sell"]}, "capabilities"),
        ({"channel": "store:nowhere"}, "channel"),
        ({"code": "Store Utrecht"}, "body.code"),
    ],
)
def test_bad_locations_name_the_field_and_store_nothing(
    client: TestClient, shop: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {"code": "store:zwolle", "name": "Zwolle", "kind": "store", **change}

    response = client.post("/v1/locations", json=body, headers=shop)

    assert 400 <= response.status_code < 500, response.text
    assert fields(response.json()) == [field]
    assert client.get("/v1/locations/store:zwolle", headers=shop).status_code == 404


def test_movements_keep_the_figures(client: TestClient, shop: dict[str, str]) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 10, reference="PO-1")
    move(client, shop, "sale", "JAS-M", "store:utrecht", 2, reference="R-1")
    move(client, shop, "return", "JAS-M", "store:utrecht", 1)
    move(client, shop, "damage", "JAS-M", "store:utrecht", 1)
    move(client, shop, "adjustment", "JAS-M", "store:utrecht", -1, note="stolen")
    move(client, shop, "transfer_out", "JAS-M", "store:utrecht", 2, reference="T-1")
    move(client, shop, "transfer_in", "JAS-M", "store:amsterdam", 2, reference="T-1")

    utrecht = level(client, shop, "JAS-M", "store:utrecht")
    assert (utrecht["on_hand"], utrecht["damaged"], utrecht["available"]) == (5, 1, 5)
    assert level(client, shop, "JAS-M", "store:amsterdam")["on_hand"] == 2

    counted = move(client, shop, "count", "JAS-M", "store:utrecht", 4)
    assert (counted["quantity"], counted["on_hand_after"]) == (-1, 4)


def test_a_till_sale_is_recorded_once_by_its_receipt_even_below_zero(
    client: TestClient, shop: dict[str, str]
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 1)

    first = move(client, shop, "sale", "JAS-M", "store:utrecht", 3, reference="R-2026-0001")
    again = client.post(
        "/v1/stock/movements",
        json={
            "kind": "sale",
            "sku": "JAS-M",
            "location": "store:utrecht",
            "quantity": 3,
            "reference": "R-2026-0001",
        },
        headers=shop,
    )

    assert first["flagged"] is True
    assert first["on_hand_after"] == -2
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["id"] == first["id"]
    assert level(client, shop, "JAS-M", "store:utrecht")["on_hand"] == -2
    flagged = client.get("/v1/stock/movements", params={"flagged": "true"}, headers=shop).json()
    assert [m["reference"] for m in flagged["items"]] == ["R-2026-0001"]
    negative = client.get("/v1/stock/levels", params={"negative": "true"}, headers=shop).json()
    assert [(row["sku"], row["location"]) for row in negative["items"]] == [
        ("JAS-M", "store:utrecht")
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sku": "NOPE"}, "sku"),
        ({"location": "store:nowhere"}, "location"),
        ({"quantity": 0}, "body.quantity"),
        ({"quantity": -3}, "body.quantity"),
        ({"kind": "adjustment", "quantity": 0}, "body.quantity"),
        ({"kind": "count", "quantity": -1}, "body.quantity"),
        ({"kind": "teleport"}, "body.kind"),
    ],
)
def test_bad_movements_name_the_field_and_change_nothing(
    client: TestClient, shop: dict[str, str], runtime: Runtime, change: dict[str, Any], field: str
) -> None:
    body = {"kind": "receipt", "sku": "JAS-M", "location": "store:utrecht", "quantity": 5, **change}

    response = client.post("/v1/stock/movements", json=body, headers=shop)

    assert response.status_code == 422, response.text
    assert fields(response.json()) == [field]
    with runtime.db.unit_of_work(write=False) as session:
        assert session.scalar(select(func.count()).select_from(StockMovement)) == 0
        assert session.scalar(select(func.count()).select_from(StockLevel)) == 0


def test_the_ledger_sums_to_on_hand(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    for n, (kind, qty) in enumerate(
        [("receipt", 20), ("sale", 3), ("damage", 2), ("count", 11), ("sale", 15), ("return", 1)]
    ):
        move(client, shop, kind, "JAS-L", "dc:tilburg", qty, reference=f"ref-{n}")

    with runtime.db.unit_of_work(write=False) as session:
        moved = session.scalar(select(func.sum(StockMovement.quantity)))
        damaged = session.scalar(select(func.sum(StockMovement.damaged_change)))
        figures = session.execute(select(StockLevel.on_hand, StockLevel.damaged)).one()
    assert (moved, damaged) == tuple(figures) == (-3, 2)
