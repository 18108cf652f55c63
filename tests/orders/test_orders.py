"""An order's life: ready, collected with the code, shipped, cancelled; every change in its
history with who and where."""

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
from tests.conftest import KeyFactory, fields
from tests.inventory.conftest import level
from tests.orders.conftest import COLLECT_UTRECHT, SHIP_HOME, add, checkout, new_cart


def place(client: TestClient, key: dict[str, str], fulfilment: dict[str, Any]) -> dict[str, Any]:
    cart = new_cart(client, key, location="store:utrecht")
    add(client, key, cart, "JAS-M", 2)
    response = checkout(client, key, cart, **fulfilment)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def act(
    client: TestClient, key: dict[str, str], order: dict[str, Any], action: str, **body: Any
) -> Any:
    return client.post(f"/v1/orders/{order['id']}/{action}", json=body, headers=key)


def test_click_and_collect_from_ready_to_collected(
    client: TestClient, store: dict[str, str], api_key: KeyFactory, runtime: Runtime
) -> None:
    order = place(client, store, COLLECT_UTRECHT)
    desk = api_key("orders:write", channel="store:utrecht")

    ready = act(client, desk, order, "ready")
    wrong = act(
        client,
        desk,
        order,
        "collect",
        pickup_code="000000" if order["pickup_code"] != "000000" else "111111",
    )
    collected = act(client, desk, order, "collect", pickup_code=order["pickup_code"])

    assert ready.status_code == 200, ready.text
    assert ready.json()["collect_by"] is not None
    assert (wrong.status_code, wrong.json()["code"]) == (409, "wrong_pickup_code")
    assert collected.status_code == 200, collected.text
    body = collected.json()
    assert body["status"] == "collected"
    assert [(h["to_status"], h["channel"]) for h in body["history"]] == [
        ("placed", "web"),
        ("ready_for_pickup", "store:utrecht"),
        ("collected", "store:utrecht"),
    ]
    jackets = level(client, store, "JAS-M", "store:utrecht")
    assert (jackets["on_hand"], jackets["allocated"]) == (1, 0)  # the sale is in the ledger
    with runtime.db.unit_of_work(write=False) as session:
        [event] = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "OrderReadyForPickup")
        )
    assert event.payload["pickup_code"] == order["pickup_code"]
    assert event.payload["location"] == "store:utrecht"


def test_shipping_takes_the_units_out_of_the_location(
    client: TestClient, store: dict[str, str]
) -> None:
    order = place(client, store, SHIP_HOME)

    shipped = act(client, store, order, "ship", carrier="PostNL", tracking="3SABC123")

    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["status"] == "shipped"
    assert body["history"][-1]["details"] == {"carrier": "PostNL", "tracking": "3SABC123"}
    assert level(client, store, "JAS-M", "store:utrecht")["on_hand"] == 1
    assert act(client, store, order, "ready").json()["code"] == "order_status"


def test_cancelling_puts_the_units_back_on_sale_and_only_once(
    client: TestClient, store: dict[str, str]
) -> None:
    order = place(client, store, COLLECT_UTRECHT)

    cancelled = act(client, store, order, "cancel", reason="changed my mind")
    again = act(client, store, order, "cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["history"][-1]["reason"] == "changed my mind"
    assert (again.status_code, again.json()["code"]) == (409, "order_status")
    jackets = level(client, store, "JAS-M", "store:utrecht")
    assert (jackets["on_hand"], jackets["allocated"], jackets["available"]) == (3, 0, 3)


def test_an_order_not_collected_in_time_is_cancelled_by_the_sweeper(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    late = place(client, store, COLLECT_UTRECHT)
    act(client, store, late, "ready")
    with runtime.db.unit_of_work() as session:
        session.execute(
            update(Order)
            .where(Order.number == late["number"])
            .values(collect_by=utcnow() - timedelta(minutes=1))
        )

    with runtime.db.unit_of_work() as session:
        assert orders.cancel_uncollected(session) == 1

    body = client.get(f"/v1/orders/{late['id']}", headers=store).json()
    assert body["status"] == "cancelled"
    assert (body["history"][-1]["by"], body["history"][-1]["reason"]) == (
        "naadloos",
        "not collected in time",
    )
    assert level(client, store, "JAS-M", "store:utrecht")["allocated"] == 0
    assert act(client, store, late, "collect", pickup_code=late["pickup_code"]).status_code == 409


def test_a_customers_orders_from_every_channel(
    client: TestClient, store: dict[str, str], api_key: KeyFactory
) -> None:
    tracker = api_key("track")
    client.post(
        "/v1/identify",
        json={"userId": "u-9", "traits": {"email": "cor.visser@ziggo.nl"}},
        headers=tracker,
    )
    web = new_cart(client, store, customer="email:cor.visser@ziggo.nl", location="store:utrecht")
    add(client, store, web, "PET-1", 1)
    assert checkout(client, store, web, **COLLECT_UTRECHT).status_code == 201
    place(client, store, SHIP_HOME)  # someone else's

    response = client.get("/v1/orders", params={"customer": "user_id:u-9"}, headers=store)

    assert response.status_code == 200, response.text
    [mine] = response.json()["items"]
    assert mine["customer_id"] is not None
    assert [x["sku"] for x in mine["lines"]] == ["PET-1"]


def test_an_unknown_or_malformed_customer_is_named_as_such(
    client: TestClient, store: dict[str, str]
) -> None:
    for path in ("/v1/orders", "/v1/carts", "/v1/store-credit"):
        unknown = client.get(path, params={"customer": "email:niemand@ziggo.nl"}, headers=store)
        malformed = client.get(path, params={"customer": "email"}, headers=store)

        assert (unknown.status_code, fields(unknown.json())) == (404, ["customer"]), path
        assert (malformed.status_code, fields(malformed.json())) == (422, ["customer"]), path
