"""Orders from every channel on the customer's timeline; an erased customer's orders keep
what was sold but nothing that points at the person."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from naadloos.customers.service import tracking
from naadloos.kit.time import utcnow
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory
from tests.orders.conftest import COLLECT_UTRECHT, SHIP_HOME, add, checkout, new_cart

EMAIL = "dirk.bakker@ziggo.nl"


def known_customer(client: TestClient, api_key: KeyFactory) -> None:
    response = client.post(
        "/v1/identify",
        json={"userId": "u-dirk", "traits": {"email": EMAIL}, "context": {"channel": "app"}},
        headers=api_key("track"),
    )
    assert response.status_code == 200, response.text


def person_id(client: TestClient, api_key: KeyFactory) -> str:
    response = client.get(
        "/v1/customers", params={"identifier": f"email:{EMAIL}"}, headers=api_key("customers:read")
    )
    assert response.status_code == 200, response.text
    found: str = response.json()["profile"]["id"]
    return found


def ordered(client: TestClient, key: dict[str, str], how: dict[str, Any]) -> dict[str, Any]:
    cart = new_cart(client, key, customer=f"email:{EMAIL}", location="store:utrecht")
    add(client, key, cart, "PET-1", 1)
    response = checkout(client, key, cart, **how)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def test_orders_appear_on_the_customers_timeline(
    client: TestClient,
    store: dict[str, str],
    api_key: KeyFactory,
    deliver: Callable[[], int],
) -> None:
    known_customer(client, api_key)
    order = ordered(client, store, COLLECT_UTRECHT)
    client.post(f"/v1/orders/{order['id']}/ready", headers=store)
    deliver()
    deliver()  # delivered again: still once on the timeline

    person = person_id(client, api_key)
    view = client.get(f"/v1/customers/{person}/360", headers=api_key("customers:read")).json()

    entries = [(e["name"], e["channel"]) for e in view["timeline"] if e["type"] == "track"]
    assert sorted(entries) == [("Order Completed", "web"), ("Order Ready For Pickup", None)]
    [placed] = [e for e in view["timeline"] if e["name"] == "Order Completed"]
    assert placed["properties"]["number"] == order["number"]
    assert placed["properties"]["total"] == 1995
    assert "web" in view["profile"]["channels"]


def test_an_erased_customers_orders_keep_the_sale_but_not_the_person(
    client: TestClient,
    store: dict[str, str],
    api_key: KeyFactory,
    deliver: Callable[[], int],
) -> None:
    known_customer(client, api_key)
    order = ordered(client, store, SHIP_HOME)
    person = person_id(client, api_key)

    erased = client.delete(f"/v1/customers/{person}", headers=api_key("customers:write"))
    assert erased.status_code in (200, 204), erased.text
    deliver()

    kept = client.get(f"/v1/orders/{order['id']}", headers=store).json()
    assert (kept["customer_id"], kept["contact"], kept["ship_to"]) == (None, {}, None)
    assert [(x["sku"], x["qty"]) for x in kept["lines"]] == [("PET-1", 1)]
    cart = client.get(f"/v1/carts/{kept['cart_id']}", headers=store).json()
    assert cart["customer_id"] is None


def test_an_erased_customers_devices_leave_the_carts_started_on_them(
    client: TestClient,
    store: dict[str, str],
    api_key: KeyFactory,
    deliver: Callable[[], int],
) -> None:
    """A cart started on Dirk's phone before he logged in is never his by person id; erasing
    him must still take his device id off it. Other devices' carts keep theirs."""
    phone = new_cart(client, store, anonymous_id="dev-dirk-phone")
    other = new_cart(client, store, anonymous_id="dev-someone-else")
    shared = new_cart(client, store, anonymous_id="kiosk-utrecht-1")  # identifies no one
    linked = client.post(
        "/v1/identify",
        json={"anonymousId": "dev-dirk-phone", "userId": "u-dirk", "traits": {"email": EMAIL}},
        headers=api_key("track"),
    )
    assert linked.status_code == 200, linked.text
    person = person_id(client, api_key)
    mine = client.get("/v1/carts", params={"customer": f"email:{EMAIL}"}, headers=store).json()
    assert [c["id"] for c in mine] == [phone["id"]]  # his by his device, as the till sees it

    erased = client.delete(f"/v1/customers/{person}", headers=api_key("customers:write"))
    assert erased.status_code in (200, 204), erased.text
    deliver()

    def device(cart: dict[str, Any]) -> str | None:
        found: str | None = client.get(f"/v1/carts/{cart['id']}", headers=store).json()[
            "anonymous_id"
        ]
        return found

    assert device(phone) is None
    assert device(other) == "dev-someone-else"
    assert device(shared) == "kiosk-utrecht-1"


def test_an_activity_recorded_twice_is_on_the_timeline_once(
    client: TestClient, store: dict[str, str], api_key: KeyFactory, runtime: Runtime
) -> None:
    known_customer(client, api_key)
    person = uuid.UUID(person_id(client, api_key))

    def record() -> bool:
        with runtime.db.unit_of_work() as session:
            return tracking.record_activity(
                session,
                person,
                name="Order Completed",
                channel="web",
                properties={"number": "X1"},
                message_id="naadloos:once",
                at=utcnow(),
            )

    assert (record(), record()) == (True, False)
    view = client.get(f"/v1/customers/{person}/360", headers=api_key("customers:read")).json()
    assert [e["name"] for e in view["timeline"]].count("Order Completed") == 1
