"""Returns anywhere: bought online, handed back in any store (or by post), refunded to how it was
paid or as store credit; never more back than was bought."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from naadloos.kit.errors import ValidationFailed
from naadloos.kit.models import OutboxEvent
from naadloos.orders.schemas import ReturnIn
from naadloos.orders.service import returns
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory, fields
from tests.inventory.conftest import level
from tests.inventory.test_concurrency import check_ledger
from tests.orders.conftest import SHIP_HOME, add, checkout, new_cart

EMAIL = "els.smit@ziggo.nl"


def shipped(client: TestClient, key: dict[str, str], **cart: Any) -> dict[str, Any]:
    """Two jackets and a cap bought on the web, shipped from Utrecht."""
    basket = new_cart(client, key, location="store:utrecht", **cart)
    add(client, key, basket, "JAS-M", 2)
    add(client, key, basket, "PET-1", 1)
    order: dict[str, Any] = checkout(client, key, basket, **SHIP_HOME).json()
    response = client.post(f"/v1/orders/{order['id']}/ship", json={}, headers=key)
    assert response.status_code == 200, response.text
    return order


def give_back(client: TestClient, key: dict[str, str], order: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/v1/orders/{order['id']}/returns", json=body, headers=key)


def test_a_web_order_returned_in_another_store_is_restocked_there_and_refunded(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    order = shipped(client, store)

    response = give_back(
        client,
        store,
        order,
        location="store:amsterdam",
        lines=[{"sku": "JAS-M", "qty": 1}, {"sku": "PET-1", "qty": 1, "disposition": "damaged"}],
        reason="te klein",
    )

    assert response.status_code == 201, response.text
    back = response.json()
    assert (back["refund_method"], back["refund_amount"], back["currency"]) == (
        "original",
        8995 + 1995,
        "EUR",
    )
    jackets = level(client, store, "JAS-M", "store:amsterdam")
    assert (jackets["on_hand"], jackets["available"]) == (1, 1)  # back on sale there
    caps = level(client, store, "PET-1", "store:amsterdam")
    assert (caps["on_hand"], caps["damaged"], caps["available"]) == (0, 1, 0)  # kept apart
    history = client.get(f"/v1/orders/{order['id']}", headers=store).json()["history"]
    assert history[-1]["details"]["refund"] == 10990
    with runtime.db.unit_of_work(write=False) as session:
        names = [e.name for e in session.scalars(select(OutboxEvent))]
    assert names.count("ReturnReceived") == 1
    assert names.count("RefundIssued") == 1
    listed = client.get(f"/v1/orders/{order['id']}/returns", headers=store).json()
    assert [x["id"] for x in listed] == [back["id"]]
    check_ledger(runtime)


def test_never_more_back_than_was_bought(client: TestClient, store: dict[str, str]) -> None:
    order = shipped(client, store)
    give_back(client, store, order, location="store:utrecht", lines=[{"sku": "JAS-M", "qty": 1}])

    again = give_back(
        client, store, order, location="store:utrecht", lines=[{"sku": "JAS-M", "qty": 2}]
    )
    stranger = give_back(
        client, store, order, location="store:utrecht", lines=[{"sku": "NOPRICE", "qty": 1}]
    )

    assert (again.status_code, fields(again.json())) == (422, ["lines.0.qty"])
    assert "1 of 'JAS-M' can still be returned" in again.json()["detail"]
    assert (stranger.status_code, fields(stranger.json())) == (422, ["lines.0.sku"])


def test_store_credit_for_a_known_customer(
    client: TestClient, store: dict[str, str], api_key: KeyFactory
) -> None:
    client.post(
        "/v1/identify",
        json={"userId": "u-els", "traits": {"email": EMAIL}},
        headers=api_key("track"),
    )
    order = shipped(client, store, customer=f"email:{EMAIL}")

    response = give_back(
        client,
        store,
        order,
        location="dc:tilburg",
        by_post=True,
        lines=[{"sku": "PET-1", "qty": 1}],
        refund="store_credit",
    )

    assert response.status_code == 201, response.text
    credit = client.get("/v1/store-credit", params={"customer": f"email:{EMAIL}"}, headers=store)
    assert credit.status_code == 200, credit.text
    assert credit.json()["balance"] == 1995


def test_what_cannot_be_returned_says_why(client: TestClient, store: dict[str, str]) -> None:
    anonymous = shipped(client, store)
    not_sent = new_cart(client, store, location="store:utrecht")
    add(client, store, not_sent, "PET-1", 1)
    placed = checkout(client, store, not_sent, **SHIP_HOME).json()
    pickup = {"code": "pickup:station", "lines": [{"sku": "PET-1", "qty": 1}]}

    credit = give_back(
        client,
        store,
        anonymous,
        location="store:utrecht",
        lines=pickup["lines"],
        refund="store_credit",
    )
    early = give_back(client, store, placed, location="store:utrecht", lines=pickup["lines"])
    nowhere = give_back(client, store, anonymous, location=pickup["code"], lines=pickup["lines"])

    assert (credit.status_code, fields(credit.json())) == (422, ["refund"])
    assert (early.status_code, early.json()["code"]) == (409, "order_status")
    assert (nowhere.status_code, fields(nowhere.json())) == (422, ["location"])


@pytest.mark.parametrize("clerks", [6])
def test_two_stores_taking_back_the_same_jacket_at_once_take_it_once(
    client: TestClient, store: dict[str, str], runtime: Runtime, clerks: int
) -> None:
    order = shipped(client, store)
    data = ReturnIn.model_validate(
        {"location": "store:utrecht", "lines": [{"sku": "JAS-M", "qty": 2}]}
    )
    start = Barrier(clerks)

    def take_back(_: int) -> str:
        start.wait()
        try:
            with runtime.db.unit_of_work() as session:
                returns.receive_return(
                    session, uuid.UUID(order["id"]), data, by="clerk", channel=None
                )
        except ValidationFailed:
            return "refused"
        return "taken"

    with ThreadPoolExecutor(clerks) as pool:
        outcome = Counter(pool.map(take_back, range(clerks)))

    assert outcome == {"taken": 1, "refused": clerks - 1}
    check_ledger(runtime)
