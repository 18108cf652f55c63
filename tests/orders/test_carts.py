"""A cart is the same cart on every channel, and its lines hold stock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from naadloos.kit.models import OutboxEvent
from naadloos.kit.time import utcnow
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory, fields
from tests.inventory.conftest import level
from tests.orders.conftest import add, new_cart


def test_adding_a_line_holds_its_units_and_shows_the_one_price(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="store:utrecht")

    response = add(client, store, cart, "JAS-M", 2)

    assert response.status_code == 200, response.text
    body = response.json()
    [line] = body["lines"]
    assert (line["sku"], line["location"], line["qty"]) == ("JAS-M", "store:utrecht", 2)
    assert (line["unit_price"], line["line_total"], body["total"]) == (8995, 17990, 17990)
    assert line["held_until"] is not None
    assert level(client, store, "JAS-M", "store:utrecht")["reserved"] == 2


def test_adding_more_of_a_sku_holds_the_whole_line_again(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 1)

    body = add(client, store, cart, "JAS-M", 2).json()

    assert [(x["sku"], x["qty"]) for x in body["lines"]] == [("JAS-M", 3)]
    assert level(client, store, "JAS-M", "store:utrecht")["reserved"] == 3


def test_too_many_is_a_409_and_the_line_keeps_its_hold(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 2)

    response = add(client, store, cart, "JAS-M", 2)

    assert response.status_code == 409
    problem = response.json()
    # The line would hold 4 of the 3 there are: all 3 are for this line to have.
    assert (problem["code"], problem["requested"], problem["available"]) == (
        "insufficient_stock",
        4,
        3,
    )
    again = client.get(f"/v1/carts/{cart['id']}", headers=store).json()
    assert [(x["qty"], x["held_until"] is not None) for x in again["lines"]] == [(2, True)]
    assert level(client, store, "JAS-M", "store:utrecht")["reserved"] == 2


def test_setting_a_line_to_zero_removes_it_and_gives_the_units_back(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 2)
    add(client, store, cart, "PET-1", 1)

    response = client.put(f"/v1/carts/{cart['id']}/lines/JAS-M", json={"qty": 0}, headers=store)

    assert response.status_code == 200, response.text
    assert [x["sku"] for x in response.json()["lines"]] == ["PET-1"]
    assert level(client, store, "JAS-M", "store:utrecht")["reserved"] == 0
    removed = client.delete(f"/v1/carts/{cart['id']}/lines/PET-1", headers=store)
    assert removed.status_code == 200, removed.text
    assert removed.json()["lines"] == []
    assert level(client, store, "PET-1", "store:utrecht")["reserved"] == 0


def test_the_till_opens_the_web_cart_by_its_code_as_typed(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "PET-1", 1)
    typed = cart["code"].lower().replace("0", "o").replace("1", "l")

    response = client.get(f"/v1/carts/by-code/{typed}", headers=store)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == cart["id"]
    assert client.get("/v1/carts/by-code/NOSUCH12", headers=store).status_code == 404


def test_a_cart_started_anonymously_follows_the_customer_who_logs_in(
    client: TestClient, store: dict[str, str], api_key: KeyFactory
) -> None:
    tracker = api_key("track")
    cart = new_cart(client, store, anonymous_id="device-1", location="store:utrecht")
    add(client, store, cart, "PET-1", 1)
    # Later the shopper logs in on that device: the tracking API links device and email.
    response = client.post(
        "/v1/identify",
        json={
            "anonymousId": "device-1",
            "userId": "u-1",
            "traits": {"email": "an.devries@ziggo.nl"},
        },
        headers=tracker,
    )
    assert response.status_code == 200, response.text

    found = client.get("/v1/carts", params={"customer": "email:an.devries@ziggo.nl"}, headers=store)

    assert found.status_code == 200, found.text
    [mine] = found.json()
    assert mine["id"] == cart["id"]
    assert mine["customer_id"] is not None


def test_the_store_identifies_the_customer_on_a_cart(
    client: TestClient, store: dict[str, str], api_key: KeyFactory
) -> None:
    tracker = api_key("track")
    client.post(
        "/v1/identify",
        json={"userId": "u-2", "traits": {"email": "bo.jansen@kpnmail.nl"}},
        headers=tracker,
    )
    cart = new_cart(client, store, channel="web", location="store:utrecht")

    response = client.patch(
        f"/v1/carts/{cart['id']}", json={"customer": "email:bo.jansen@kpnmail.nl"}, headers=store
    )

    assert response.status_code == 200, response.text
    assert response.json()["customer_id"] is not None
    found = client.get("/v1/carts", params={"customer": "user_id:u-2"}, headers=store).json()
    assert [c["id"] for c in found] == [cart["id"]]


def test_a_lapsed_hold_shows_and_gives_its_units_back(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    from naadloos.inventory.service import expiry  # noqa: PLC0415 - the sweeper, run by hand

    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 3)
    with runtime.db.unit_of_work() as session:
        expiry.expire_due(session, at=utcnow() + timedelta(hours=1))

    body = client.get(f"/v1/carts/{cart['id']}", headers=store).json()

    assert [(x["qty"], x["held_until"]) for x in body["lines"]] == [(3, None)]
    assert level(client, store, "JAS-M", "store:utrecht")["reserved"] == 0


def test_every_change_is_a_cart_updated_event(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    answers = [add(client, store, cart, "PET-1", 2), add(client, store, cart, "JAS-M", 1)]
    answers.append(add(client, store, cart, "PET-1", 1))  # to the line there is
    answers.append(client.put(f"/v1/carts/{cart['id']}/lines/JAS-M", json={"qty": 0},
                              headers=store))  # fmt: skip

    with runtime.db.unit_of_work(write=False) as session:
        events = [
            e.payload
            for e in session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.name == "CartUpdated")
                .order_by(OutboxEvent.seq)
            )
        ]
    pet = {"sku": "PET-1", "location": "store:utrecht"}
    jas = {"sku": "JAS-M", "location": "store:utrecht"}
    assert [e["lines"] for e in events] == [
        [],
        [{**pet, "qty": 2}],
        [{**jas, "qty": 1}, {**pet, "qty": 2}],  # in key order, as the cart shows them
        [{**jas, "qty": 1}, {**pet, "qty": 3}],
        [{**pet, "qty": 3}],
    ]
    # Each answer shows the lines its event names.
    for answer, event in zip(answers, events[1:], strict=True):
        assert answer.status_code in (200, 201), answer.text
        shown = [{"sku": x["sku"], "location": x["location"], "qty": x["qty"]}
                 for x in answer.json()["lines"]]  # fmt: skip
        assert shown == event["lines"]
    assert level(client, store, "PET-1", "store:utrecht")["reserved"] == 3
    assert level(client, store, "JAS-M", "store:utrecht")["reserved"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "NOPE", "qty": 1}, "sku"),
        ({"sku": "JAS-M", "qty": 0}, "body.qty"),
        ({"sku": "JAS-M", "qty": 1, "location": "store:nowhere"}, "location"),
    ],
)
def test_bad_lines_name_the_field_and_change_nothing(
    client: TestClient, store: dict[str, str], body: dict[str, object], field: str
) -> None:
    cart = new_cart(client, store, location="store:utrecht")

    response = client.post(f"/v1/carts/{cart['id']}/lines", json=body, headers=store)

    assert response.status_code in (404, 422), response.text
    assert fields(response.json()) == [field]
    assert client.get(f"/v1/carts/{cart['id']}", headers=store).json()["lines"] == []


def test_a_line_needs_a_location_when_the_cart_has_none(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store)

    response = add(client, store, cart, "JAS-M", 1)

    assert response.status_code == 422
    assert fields(response.json()) == ["location"]
    assert add(client, store, cart, "JAS-M", 1, "dc:tilburg").status_code == 200


def test_a_cart_needs_a_channel_that_exists_and_a_known_customer(
    client: TestClient, store: dict[str, str], api_key: KeyFactory
) -> None:
    unbound = client.post("/v1/carts", json={}, headers=store)
    unknown = client.post("/v1/carts", json={"channel": "fax"}, headers=store)
    stranger = client.post(
        "/v1/carts", json={"channel": "web", "customer": "email:nobody@example.nl"}, headers=store
    )
    till = api_key("orders:write", channel="store:utrecht")
    other = client.post("/v1/carts", json={"channel": "web"}, headers=till)

    assert (unbound.status_code, fields(unbound.json())) == (422, ["channel"])
    assert (unknown.status_code, fields(unknown.json())) == (404, ["channel"])
    assert (stranger.status_code, fields(stranger.json())) == (404, ["customer"])
    assert (other.status_code, fields(other.json())) == (422, ["channel"])
