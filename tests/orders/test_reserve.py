"""Reserve online, pay in store: the units wait at the desk until a deadline; the customer pays
the whole order at the till and takes it, or the reservation lapses and the units go back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from naadloos.kit.models import OutboxEvent
from naadloos.kit.time import utcnow
from naadloos.orders.models import Order
from naadloos.orders.service import orders
from naadloos.runtime import Runtime
from tests.conftest import fields
from tests.inventory.conftest import level
from tests.orders.conftest import add, checkout, new_cart

RESERVE = {"fulfilment": "reserve", "pickup_location": "store:utrecht"}


def reserved(client: TestClient, key: dict[str, str]) -> dict[str, Any]:
    cart = new_cart(client, key, location="store:utrecht")
    add(client, key, cart, "JAS-M", 1)
    response = checkout(client, key, cart, **RESERVE)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def test_a_reservation_waits_at_the_desk_from_the_start(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    order = reserved(client, store)

    assert (order["status"], order["fulfilment"]) == ("ready_for_pickup", "reserve")
    assert order["collect_by"] is not None
    assert len(order["pickup_code"]) == 6
    assert level(client, store, "JAS-M", "store:utrecht")["allocated"] == 1
    with runtime.db.unit_of_work(write=False) as session:
        [ready] = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "OrderReadyForPickup")
        )
    assert ready.payload["pickup_code"] == order["pickup_code"]


def test_paid_in_full_at_the_till_it_is_collected(
    client: TestClient, store: dict[str, str]
) -> None:
    order = reserved(client, store)
    code = order["pickup_code"]

    short = client.post(
        f"/v1/orders/{order['id']}/collect",
        json={"pickup_code": code, "payments": [{"method": "card", "amount": 1000}]},
        headers=store,
    )
    paid = client.post(
        f"/v1/orders/{order['id']}/collect",
        json={
            "pickup_code": code,
            "payments": [{"method": "card", "amount": 5000}, {"method": "cash", "amount": 3995}],
        },
        headers=store,
    )

    assert (short.status_code, fields(short.json())) == (422, ["payments"])
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "collected"
    assert [p["method"] for p in body["payments"]] == ["card", "cash"]
    assert body["history"][-1]["details"] == {"paid": 8995}
    jackets = level(client, store, "JAS-M", "store:utrecht")
    assert (jackets["on_hand"], jackets["allocated"]) == (2, 0)


def test_a_reservation_not_collected_in_time_goes_back_on_sale(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    order = reserved(client, store)
    with runtime.db.unit_of_work() as session:
        session.execute(
            update(Order)
            .where(Order.number == order["number"])
            .values(collect_by=utcnow() - timedelta(minutes=1))
        )

    with runtime.db.unit_of_work() as session:
        assert orders.cancel_uncollected(session) == 1

    assert level(client, store, "JAS-M", "store:utrecht")["allocated"] == 0
    body = client.get(f"/v1/orders/{order['id']}", headers=store).json()
    assert body["status"] == "cancelled"
