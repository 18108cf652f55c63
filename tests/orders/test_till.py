"""Till sales are facts: recorded once by receipt, in the stock ledger even below zero, and
linked to the customer the till knew."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from naadloos.orders.models import Order, OrderChange, OrderLine
from naadloos.orders.service import order_rows
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory, fields
from tests.inventory.conftest import level, move


@pytest.fixture
def till(
    client: TestClient, store: dict[str, str], admin: dict[str, str], api_key: KeyFactory
) -> dict[str, str]:
    """The till of the Delft store, whose own channel is store:delft; 2 caps there."""
    channel = {"code": "store:delft", "name": "Delft", "kind": "store"}
    assert client.post("/v1/channels", json=channel, headers=admin).status_code == 201
    location = {"code": "store:delft", "name": "Delft", "kind": "store", "channel": "store:delft"}
    assert client.post("/v1/locations", json=location, headers=store).status_code == 201
    move(client, store, "receipt", "PET-1", "store:delft", 2)
    return api_key("orders:write", channel="store:delft")


def sale(receipt: str = "D-0001", **extra: Any) -> dict[str, Any]:
    return {
        "receipt_id": receipt,
        "sold_at": "2026-11-21T16:05:00+01:00",
        "lines": [
            {"sku": "PET-1", "qty": 3, "unit_price": 1795, "vat_rate": "21"},
            {"sku": "JAS-M", "qty": 1, "unit_price": 8995, "vat_rate": "21"},
        ],
        "payments": [{"method": "card", "amount": 14380, "reference": "PIN-77"}],
        **extra,
    }


def test_a_till_sale_is_an_order_and_sales_in_the_ledger(
    client: TestClient, store: dict[str, str], till: dict[str, str]
) -> None:
    response = client.post("/v1/till/sales", json=sale(), headers=till)

    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["status"], order["fulfilment"], order["channel"]) == (
        "completed",
        "in_store",
        "store:delft",
    )
    assert (order["reference"], order["total"], order["replayed"]) == ("D-0001", 14380, False)
    assert order["payments"] == [{"method": "card", "amount": 14380, "reference": "PIN-77"}]
    assert order["created_at"].startswith("2026-11-21T15:05")  # when it was sold, in UTC
    # Three caps sold where the ledger knew two: recorded all the same, and flagged.
    caps = level(client, store, "PET-1", "store:delft")
    assert caps["on_hand"] == -1
    flagged = client.get("/v1/stock/movements", params={"flagged": "true"}, headers=store).json()[
        "items"
    ]
    assert sorted((m["sku"], m["reference"]) for m in flagged) == [
        ("JAS-M", "D-0001"),
        ("PET-1", "D-0001"),
    ]


def test_a_receipt_sent_again_changes_nothing(
    client: TestClient, store: dict[str, str], till: dict[str, str]
) -> None:
    first = client.post("/v1/till/sales", json=sale(), headers=till)
    again = client.post("/v1/till/sales", json=sale(), headers=till)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["replayed"] is True
    assert level(client, store, "PET-1", "store:delft")["on_hand"] == -1


def test_the_loyalty_card_on_the_receipt_links_the_sale_to_the_customer(
    client: TestClient,
    store: dict[str, str],
    till: dict[str, str],
    api_key: KeyFactory,
    deliver: Callable[[], int],
) -> None:
    tracker = api_key("track")
    client.post(
        "/v1/identify",
        json={"userId": "u-7", "traits": {"loyalty_card": "NL-000777"}},
        headers=tracker,
    )

    body = sale(customer={"loyalty_card": "NL-000777", "email": "onbekend@ziggo.nl"})
    order = client.post("/v1/till/sales", json=body, headers=till).json()
    deliver()

    assert order["customer_id"] is not None
    mine = client.get("/v1/orders", params={"customer": "user_id:u-7"}, headers=store).json()
    assert [o["reference"] for o in mine["items"]] == ["D-0001"]
    view = client.get(
        f"/v1/customers/{order['customer_id']}/360", headers=api_key("customers:read")
    ).json()
    assert ("Order Completed", "store:delft") in [
        (e["name"], e["channel"]) for e in view["timeline"]
    ]
    assert "store:delft" in view["profile"]["channels"]


def test_a_stranger_at_the_till_is_a_sale_without_a_customer(
    client: TestClient, till: dict[str, str]
) -> None:
    body = sale(customer={"email": "nog.niet.bekend@ziggo.nl"})

    response = client.post("/v1/till/sales", json=body, headers=till)

    assert response.status_code == 201, response.text
    assert response.json()["customer_id"] is None


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"lines": []}, "body.lines", 422),
        ({"sold_at": "2026-11-21T16:05:00"}, "body.sold_at", 422),  # no time zone
        ({"currency": "XYZ"}, "currency", 422),
        ({"location": "store:nowhere"}, "location", 404),
        (
            {"lines": [{"sku": "NOPE", "qty": 1, "unit_price": 100, "vat_rate": "21"}]},
            "lines.0.sku",
            422,
        ),
    ],
)
def test_a_bad_receipt_names_the_field_and_records_nothing(
    *,
    client: TestClient,
    store: dict[str, str],
    till: dict[str, str],
    change: dict[str, Any],
    field: str,
    status: int,
) -> None:
    response = client.post("/v1/till/sales", json=sale(**change), headers=till)

    assert response.status_code == status, response.text
    assert fields(response.json()) == [field]
    assert level(client, store, "PET-1", "store:delft")["on_hand"] == 2


def test_a_till_without_a_store_must_say_where(
    client: TestClient, store: dict[str, str], till: dict[str, str]
) -> None:
    response = client.post("/v1/till/sales", json=sale(), headers=store)  # not a till's key

    assert response.status_code == 422
    assert fields(response.json()) == ["location"]
    named = client.post("/v1/till/sales", json=sale(location="store:delft"), headers=store)
    assert named.status_code == 201, named.text
    assert named.json()["channel"] == "store:delft"


def test_an_order_whose_row_clashes_writes_no_lines_or_history(
    client: TestClient, till: dict[str, str], runtime: Runtime
) -> None:
    """Two tills sending one receipt at the same moment: the second's order row meets the
    first's (channel, receipt) and nothing of it is written (on PostgreSQL one statement does
    the three inserts)."""
    first = client.post("/v1/till/sales", json=sale(), headers=till).json()
    with runtime.db.unit_of_work() as session:
        row = session.get(Order, uuid.UUID(first["id"]))
        assert row is not None
        order = {c.name: getattr(row, c.key) for c in Order.__table__.columns}
        lines = [
            {c.name: getattr(line, c.key) for c in OrderLine.__table__.columns}
            for line in session.scalars(select(OrderLine).where(OrderLine.order_id == row.id))
        ]
        [change] = session.scalars(select(OrderChange).where(OrderChange.order_id == row.id))
        history = {c.name: getattr(change, c.key) for c in OrderChange.__table__.columns}
        other = uuid.uuid4()  # a new order id, the same receipt
        assert not order_rows.write_order(
            session,
            {**order, "id": other, "number": "X" + order["number"][1:]},
            [{**line, "order_id": other} for line in lines],
            {**history, "order_id": other},
        )
        assert not order_rows.write_order(session, order, lines, history)  # the same order
    with runtime.db.unit_of_work(write=False) as session:
        assert session.get(Order, other) is None
        assert session.scalars(select(OrderLine).where(OrderLine.order_id == other)).all() == []
        assert session.scalars(select(OrderChange).where(OrderChange.order_id == other)).all() == []
        assert len(session.scalars(select(OrderChange)).all()) == 1
        assert len(session.scalars(select(OrderLine)).all()) == len(lines) == 2
