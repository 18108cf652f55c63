"""Checkout turns a cart into an order in one transaction, or changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from naadloos.inventory.service import expiry
from naadloos.kit.models import OutboxEvent
from naadloos.kit.time import utcnow
from naadloos.orders.models import Order
from naadloos.orders.service import order_rows
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory, fields
from tests.inventory.conftest import level, move
from tests.orders.conftest import COLLECT_UTRECHT, SHIP_HOME, add, checkout, new_cart


def orders_count(runtime: Runtime) -> int:
    with runtime.db.unit_of_work(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def test_click_and_collect_allocates_the_held_units(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 2)
    add(client, store, cart, "PET-1", 1)

    response = checkout(client, store, cart, **COLLECT_UTRECHT)

    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "placed"
    assert (order["fulfilment"], order["pickup_location"]) == ("collect", "store:utrecht")
    assert (order["total"], order["vat_total"], order["currency"]) == (19985, 3468, "EUR")
    assert [(x["sku"], x["qty"], x["unit_price"]) for x in order["lines"]] == [
        ("JAS-M", 2, 8995),
        ("PET-1", 1, 1995),
    ]
    assert len(order["pickup_code"]) == 6
    [placed] = order["history"]
    assert (placed["from_status"], placed["to_status"], placed["by"]) == (None, "placed", "test")
    jackets = level(client, store, "JAS-M", "store:utrecht")
    assert (jackets["reserved"], jackets["allocated"], jackets["on_hand"]) == (0, 2, 3)
    again = client.get(f"/v1/carts/{cart['id']}", headers=store).json()
    assert (again["status"], again["order_id"]) == ("checked_out", order["id"])
    shown = client.get(f"/v1/orders/{order['id']}", headers=store).json()
    assert shown["pickup_code"] is None  # the customer's proof is not for every reader
    with runtime.db.unit_of_work(write=False) as session:
        [event] = session.scalars(select(OutboxEvent).where(OutboxEvent.name == "OrderPlaced"))
    assert event.payload["number"] == order["number"]
    assert event.payload["total"] == 19985


def test_a_retried_checkout_gets_the_same_order(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "PET-1", 1)
    key = {**store, "Idempotency-Key": "checkout-1"}

    first = client.post(f"/v1/carts/{cart['id']}/checkout", json=COLLECT_UTRECHT, headers=key)
    retry = client.post(f"/v1/carts/{cart['id']}/checkout", json=COLLECT_UTRECHT, headers=key)
    other = checkout(client, store, cart, **COLLECT_UTRECHT)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["id"] == first.json()["id"]
    assert (other.status_code, other.json()["code"]) == (409, "cart_closed")
    assert orders_count(runtime) == 1


def test_a_lapsed_hold_is_taken_again_when_the_stock_is_still_there(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 2)
    with runtime.db.unit_of_work() as session:
        expiry.expire_due(session, at=utcnow() + timedelta(hours=1))

    response = checkout(client, store, cart, **COLLECT_UTRECHT)

    assert response.status_code == 201, response.text
    assert level(client, store, "JAS-M", "store:utrecht")["allocated"] == 2


def test_when_the_units_went_meanwhile_the_refusal_lists_them_and_nothing_changes(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 2)
    add(client, store, cart, "PET-1", 1)
    with runtime.db.unit_of_work() as session:
        expiry.expire_due(session, at=utcnow() + timedelta(hours=1))
    rival = new_cart(client, store, location="store:utrecht")
    assert add(client, store, rival, "JAS-M", 2).status_code == 200

    response = checkout(client, store, cart, **COLLECT_UTRECHT)

    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "insufficient_stock"
    assert problem["missing"] == [
        {"sku": "JAS-M", "location": "store:utrecht", "requested": 2, "available": 1}
    ]
    assert orders_count(runtime) == 0
    still = client.get(f"/v1/carts/{cart['id']}", headers=store).json()
    assert still["status"] == "open"
    assert [x["qty"] for x in still["lines"]] == [2, 1]
    caps = level(client, store, "PET-1", "store:utrecht")
    assert (caps["reserved"], caps["allocated"]) == (0, 0)  # the lapsed hold stays lapsed


def test_collecting_where_the_line_is_not_held_moves_its_hold(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="dc:tilburg")
    add(client, store, cart, "JAS-M", 2)

    response = checkout(client, store, cart, **COLLECT_UTRECHT)

    assert response.status_code == 201, response.text
    assert [x["location"] for x in response.json()["lines"]] == ["store:utrecht"]
    assert level(client, store, "JAS-M", "dc:tilburg")["reserved"] == 0
    assert level(client, store, "JAS-M", "store:utrecht")["allocated"] == 2


def test_collecting_where_there_is_no_stock_is_refused_with_the_place(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="dc:tilburg")
    add(client, store, cart, "JAS-M", 2)

    response = checkout(
        client, store, cart, fulfilment="collect", pickup_location="store:amsterdam"
    )

    assert response.status_code == 409
    [missing] = response.json()["missing"]
    assert (missing["location"], missing["available"]) == ("store:amsterdam", 0)
    assert level(client, store, "JAS-M", "dc:tilburg")["reserved"] == 2  # as it was


def test_ship_to_home_from_the_warehouse(client: TestClient, store: dict[str, str]) -> None:
    cart = new_cart(client, store, location="dc:tilburg")
    add(client, store, cart, "JAS-M", 1)

    response = checkout(client, store, cart, **SHIP_HOME)

    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["fulfilment"], order["pickup_code"], order["pickup_location"]) == (
        "ship",
        None,
        None,
    )
    assert order["ship_to"]["city"] == "Amsterdam"
    assert order["contact"] == {"email": "jan@example.nl"}


def test_what_cannot_be_checked_out_says_why(
    client: TestClient, store: dict[str, str], api_key: KeyFactory
) -> None:
    empty = new_cart(client, store, location="store:utrecht")
    unpriced = new_cart(client, store, location="store:utrecht")
    add(client, store, unpriced, "NOPRICE", 1)
    ok = new_cart(client, store, location="store:utrecht")
    add(client, store, ok, "PET-1", 1)
    kiosk = {"code": "kiosk:hal", "name": "Kiosk", "kind": "store", "capabilities": ["sell"]}
    assert client.post("/v1/locations", json=kiosk, headers=store).status_code == 201
    move(client, store, "receipt", "PET-1", "kiosk:hal", 1)
    from_kiosk = new_cart(client, store, location="kiosk:hal")
    add(client, store, from_kiosk, "PET-1", 1)

    assert checkout(client, store, empty, **COLLECT_UTRECHT).json()["code"] == "cart_empty"
    assert checkout(client, store, unpriced, **COLLECT_UTRECHT).json()["code"] == "no_price"
    no_address = checkout(client, store, ok, fulfilment="ship")
    assert (no_address.status_code, fields(no_address.json())) == (422, ["body"])
    warehouse = checkout(client, store, ok, fulfilment="collect", pickup_location="dc:tilburg")
    assert (warehouse.status_code, fields(warehouse.json())) == (422, ["pickup_location"])
    nowhere = checkout(client, store, ok, fulfilment="collect", pickup_location="store:x")
    assert (nowhere.status_code, fields(nowhere.json())) == (422, ["pickup_location"])
    near = checkout(client, store, from_kiosk, **SHIP_HOME, near="52.1")
    assert (near.status_code, fields(near.json())) == (422, ["near"])
    # Each refusal left its cart open: the good one still checks out.
    assert checkout(client, store, ok, **COLLECT_UTRECHT).status_code == 201


def test_an_order_that_clashes_leaves_its_cart_as_it_was(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    """An order number drawn twice: nothing of the second order is written, and the cart keeps
    naming the order it became (on PostgreSQL the link is part of the order's statement)."""
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "PET-1", 1)
    first = checkout(client, store, cart, **COLLECT_UTRECHT).json()
    with runtime.db.unit_of_work() as session:
        row = session.get(Order, uuid.UUID(first["id"]))
        assert row is not None
        order = {c.name: getattr(row, c.key) for c in Order.__table__.columns}
        other = uuid.uuid4()
        line = {
            "order_id": other,
            "line": 0,
            "sku": "PET-1",
            "location_id": row.pickup_location_id,
            "quantity": 1,
            "unit_price": 1995,
            "vat_rate": "21",
            "reservation_id": None,
        }
        change = {
            "order_id": other,
            "seq": 1,
            "from_status": None,
            "to_status": "placed",
            "by": "test",
            "channel": "web",
            "reason": None,
            "details": {},
            "at": utcnow(),
        }
        assert not order_rows.write_order(session, {**order, "id": other}, [line], change)
    again = client.get(f"/v1/carts/{cart['id']}", headers=store).json()
    assert again["order_id"] == first["id"]
    with runtime.db.unit_of_work(write=False) as session:
        assert session.get(Order, other) is None
