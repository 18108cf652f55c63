from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from naadloos.inventory.models import Reservation
from naadloos.inventory.schemas import ReservationCreate
from naadloos.inventory.service import expiry, reservation_changes, reservations, shortfall
from naadloos.kit.models import OutboxEvent
from naadloos.kit.time import utcnow
from naadloos.runtime import Runtime
from tests.conftest import fields
from tests.inventory.conftest import level, move


def reserve(client: TestClient, key: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/reservations", json={"channel": "web", **body}, headers=key)


def lapsed_hold(runtime: Runtime, channel: str, qty: int) -> None:
    """A hold of JAS-M at Utrecht whose time ran out, not swept yet."""
    with runtime.db.unit_of_work() as session:
        reservations.reserve(
            session,
            ReservationCreate(
                channel=channel, sku="JAS-M", location="store:utrecht", qty=qty, ttl_seconds=1
            ),
            by="test",
            at=utcnow() - timedelta(seconds=5),
        )


def test_a_hold_lowers_what_is_available(client: TestClient, shop: dict[str, str]) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)

    response = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2, ttl_seconds=600)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "held"
    assert body["lines"] == [{"sku": "JAS-M", "location": "store:utrecht", "qty": 2}]
    figures = level(client, shop, "JAS-M", "store:utrecht")
    assert (figures["on_hand"], figures["reserved"], figures["available"]) == (3, 2, 1)


def test_too_little_stock_is_a_409_with_what_is_available(
    client: TestClient, shop: dict[str, str]
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)
    reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2)

    response = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2)

    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "insufficient_stock"
    assert (problem["available"], problem["requested"]) == (1, 2)
    assert problem["sku"] == "JAS-M"
    assert problem["location"] == "store:utrecht"


def test_a_sku_never_stocked_at_a_store_is_refused_with_nothing_available(
    client: TestClient, shop: dict[str, str]
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)

    response = reserve(client, shop, sku="JAS-M", location="store:amsterdam", qty=1)

    assert response.status_code == 409, response.text
    assert (response.json()["available"], response.json()["location"]) == (0, "store:amsterdam")


def test_a_refusal_is_only_quick_when_there_is_plainly_too_little(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    """The one-statement refusal leaves every other case to the general path: stock freed
    since the hold failed, a lapsed hold still to sweep, no stock row, a closed location."""
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)
    move(client, shop, "receipt", "JAS-L", "store:utrecht", 1)
    assert client.put(
        "/v1/stock/safety", json={"channel": "web", "quantity": 1}, headers=shop
    ).is_success
    at = utcnow()
    with runtime.db.unit_of_work() as session:
        short = shortfall.plainly_short(session, "JAS-M", "store:utrecht", 3, channel="web", at=at)
        assert short is not None
        assert (short.place.code, short.available) == ("store:utrecht", 2)
        by_place = shortfall.plainly_short(session, "JAS-M", short.place, 3, channel="web", at=at)
        assert by_place == short
        for sku, where, qty in (
            ("JAS-M", "store:utrecht", 2),  # freed since: enough now
            ("JAS-M", "store:amsterdam", 1),  # no stock row there
            ("JAS-M", "store:nowhere", 1),
            ("NOPE", "store:utrecht", 1),
        ):
            assert (
                shortfall.plainly_short(session, sku, where, qty, channel="web", at=at) is None
            ), (sku, where, qty)
    # The hold and that reading together (one statement on PostgreSQL): a refusal says what
    # is available, a hold says where, anything else is the general path's.
    with runtime.db.unit_of_work() as session:

        def hold(sku: str, where: Any, qty: int) -> Any:
            return shortfall.hold_or_short(
                session, sku, where, qty, channel="web", reference="test", at=at
            )

        assert hold("JAS-M", "store:utrecht", 3) == short
        assert hold("JAS-M", short.place, 3) == short
        assert hold("JAS-M", "store:amsterdam", 1) is None
        assert hold("JAS-M", "store:nowhere", 1) is None
        assert hold("NOPE", "store:utrecht", 1) is None
        assert hold("JAS-M", "store:utrecht", 2) == short.place
        assert hold("JAS-M", short.place, 1) == short._replace(available=0)
        session.rollback()
    lapsed_hold(runtime, "app", 3)
    with runtime.db.unit_of_work() as session:  # a lapsed hold: the general path sweeps it
        assert shortfall.plainly_short(session, "JAS-M", "store:utrecht", 1, channel="web",
                                       at=at) is None  # fmt: skip
        # ... only at its own stock row: another SKU's refusal stays quick.
        other = shortfall.plainly_short(session, "JAS-L", "store:utrecht", 2, channel="web", at=at)
        assert other is not None
        assert other.available == 0  # one on hand, the channel's safety stock of one left alone
    assert reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2).status_code == 201


def test_several_lines_are_held_all_or_none(client: TestClient, shop: dict[str, str]) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 5)
    move(client, shop, "receipt", "JAS-L", "store:utrecht", 1)

    response = reserve(
        client,
        shop,
        lines=[
            {"sku": "JAS-M", "location": "store:utrecht", "qty": 2},
            {"sku": "JAS-L", "location": "store:utrecht", "qty": 2},
        ],
    )

    assert response.status_code == 409
    assert response.json()["sku"] == "JAS-L"
    assert level(client, shop, "JAS-M", "store:utrecht")["reserved"] == 0


def test_release_allocate_and_fulfil(client: TestClient, shop: dict[str, str]) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 5)
    cart = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2).json()
    order = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=1).json()

    released = client.post(f"/v1/reservations/{cart['id']}/release", headers=shop)
    allocated = client.post(f"/v1/reservations/{order['id']}/allocate", headers=shop)

    assert released.json()["status"] == "released"
    assert allocated.json()["status"] == "allocated"
    figures = level(client, shop, "JAS-M", "store:utrecht")
    assert (figures["reserved"], figures["allocated"], figures["available"]) == (0, 1, 4)

    shipped = client.post(f"/v1/reservations/{order['id']}/fulfil", headers=shop)

    assert shipped.json()["status"] == "fulfilled"
    figures = level(client, shop, "JAS-M", "store:utrecht")
    assert (figures["on_hand"], figures["allocated"], figures["available"]) == (4, 0, 4)
    again = client.post(f"/v1/reservations/{cart['id']}/release", headers=shop)
    assert (again.status_code, again.json()["code"]) == (409, "reservation_closed")


def test_many_holds_are_allocated_at_once_and_lapsed_ones_are_left(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    """A checkout of a big cart: more holds than one statement names (64), two SKUs."""
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 100)
    move(client, shop, "receipt", "JAS-L", "store:amsterdam", 100)
    holds = [
        reserve(client, shop, sku=sku, location=where, qty=1, ttl_seconds=600).json()["id"]
        for n in range(45)
        for sku, where in (("JAS-M", "store:utrecht"), ("JAS-L", "store:amsterdam"))
    ]
    lapsed_hold(runtime, "web", 1)
    with runtime.db.unit_of_work(write=False) as session:
        lapsed = session.scalars(
            select(Reservation.id).where(Reservation.expires_at < utcnow())
        ).one()
    released = holds.pop()
    assert client.post(f"/v1/reservations/{released}/release", headers=shop).status_code == 200

    with runtime.db.unit_of_work() as session:
        asked = [uuid.UUID(h) for h in holds] + [lapsed, uuid.UUID(released)]
        claimed = reservation_changes.allocate_held(session, asked)

    assert claimed == {uuid.UUID(h) for h in holds}
    utrecht = level(client, shop, "JAS-M", "store:utrecht")
    amsterdam = level(client, shop, "JAS-L", "store:amsterdam")
    assert (utrecht["reserved"], utrecht["allocated"]) == (1, 45)  # the lapsed hold stays
    assert (amsterdam["reserved"], amsterdam["allocated"]) == (0, 44)
    statuses = {client.get(f"/v1/reservations/{h}", headers=shop).json()["status"] for h in holds}
    assert statuses == {"allocated"}


def test_holds_expire_and_the_sweeper_gives_the_units_back(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 2)
    hold = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2, ttl_seconds=60)

    with runtime.db.unit_of_work() as session:
        assert expiry.expire_due(session) == 0  # not yet
        assert expiry.expire_due(session, at=utcnow() + timedelta(seconds=61)) == 1

    assert (
        client.get(f"/v1/reservations/{hold.json()['id']}", headers=shop).json()["status"]
        == "expired"
    )
    assert level(client, shop, "JAS-M", "store:utrecht")["reserved"] == 0
    late = client.post(f"/v1/reservations/{hold.json()['id']}/allocate", headers=shop)
    assert late.status_code == 409


def test_an_expired_hold_that_was_not_swept_yet_does_not_block(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 1)
    lapsed_hold(runtime, "web", 1)

    response = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=1)

    assert response.status_code == 201, response.text
    assert level(client, shop, "JAS-M", "store:utrecht")["reserved"] == 1


def test_safety_stock_holds_units_back_from_one_channel(
    client: TestClient, shop: dict[str, str]
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)
    safety = client.put("/v1/stock/safety", json={"channel": "web", "quantity": 2}, headers=shop)
    assert safety.status_code == 200, safety.text

    web = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2)
    app = client.post(
        "/v1/reservations",
        json={"channel": "app", "sku": "JAS-M", "location": "store:utrecht", "qty": 2},
        headers=shop,
    )

    assert (web.status_code, web.json()["available"]) == (409, 1)
    assert app.status_code == 201


def test_a_skus_own_safety_stock_overrides_the_channels(
    client: TestClient, shop: dict[str, str]
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)
    for body in (
        {"channel": "web", "quantity": 2},
        {"channel": "web", "sku": "JAS-M", "quantity": 1},
    ):
        assert client.put("/v1/stock/safety", json=body, headers=shop).status_code == 200

    two = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=2)
    one_more = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=1)

    assert two.status_code == 201, two.text
    assert (one_more.status_code, one_more.json()["available"]) == (409, 0)


def test_bad_reservations_name_the_field(client: TestClient, shop: dict[str, str]) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 3)
    cases = [
        ({"sku": "NOPE", "location": "store:utrecht", "qty": 1}, "sku"),
        ({"sku": "JAS-M", "location": "store:nowhere", "qty": 1}, "location"),
        ({"sku": "JAS-M", "location": "store:utrecht", "qty": 0}, "body.qty"),
        ({"sku": "JAS-M", "location": "store:utrecht"}, "body"),
        ({"lines": [{"sku": "JAS-M", "location": "store:nowhere", "qty": 1}]}, "lines.0.location"),
        ({"sku": "JAS-M", "location": "store:utrecht", "qty": 1, "channel": "nope"}, "channel"),
        (
            {
                "lines": [
                    {"sku": "JAS-M", "location": "store:utrecht", "qty": 1},
                    {"sku": "X", "location": "store:utrecht", "qty": 1},
                ]
            },
            "lines.1.sku",
        ),
    ]
    for body, field in cases:
        response = reserve(client, shop, **body)
        assert 400 <= response.status_code < 500, body
        assert fields(response.json()) == [field], response.text
    assert level(client, shop, "JAS-M", "store:utrecht")["reserved"] == 0
    missing = client.get(f"/v1/reservations/{uuid.uuid4()}", headers=shop)
    assert missing.json()["code"] == "reservation_not_found"


def test_stock_changes_are_events_and_crossing_zero_says_so(
    client: TestClient, shop: dict[str, str], runtime: Runtime
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 1)
    hold = reserve(client, shop, sku="JAS-M", location="store:utrecht", qty=1).json()
    client.post(f"/v1/reservations/{hold['id']}/release", headers=shop)

    with runtime.db.unit_of_work(write=False) as session:
        events = session.execute(
            select(OutboxEvent.name, OutboxEvent.payload).order_by(OutboxEvent.occurred_at)
        ).all()
    stock = [
        (n, p.get("cause")) for n, p in events if n in ("StockChanged", "OutOfStock", "BackInStock")
    ]
    assert stock == [
        ("StockChanged", "receipt"),
        ("BackInStock", None),
        ("StockChanged", "reserved"),
        ("OutOfStock", None),
        ("StockChanged", "released"),
        ("BackInStock", None),
    ]
