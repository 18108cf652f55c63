"""Routing: which locations ship an order's units, and why."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from naadloos.inventory.service.locations import Place
from naadloos.kit.settings import Settings
from naadloos.orders.service.routing import Candidate, Need, StockPriorityDistance, load
from naadloos.runtime import build_runtime
from tests.inventory.conftest import level, move
from tests.orders.conftest import SHIP_HOME, add, checkout, new_cart

DC = Place(1, "dc:tilburg")
UTRECHT = Place(2, "store:utrecht")
DELFT = Place(3, "store:delft")


def at(place: Place, kind: str, available: int, km: float | None = None) -> Candidate:
    return Candidate(place, kind, available, km)


def test_one_location_with_every_line_is_one_parcel() -> None:
    route = StockPriorityDistance().route(
        [Need("A", 1), Need("B", 2)],
        {
            "A": [at(UTRECHT, "store", 5), at(DC, "warehouse", 9)],
            "B": [at(UTRECHT, "store", 2), at(DELFT, "store", 9)],
        },
    )

    assert [(a.sku, a.place.code, a.qty) for a in route.assignments] == [
        ("A", "store:utrecht", 1),
        ("B", "store:utrecht", 2),
    ]
    assert route.short == {}
    assert "one parcel" in route.assignments[0].why


def test_warehouses_ship_before_stores_then_the_nearest() -> None:
    needs = [Need("A", 1)]
    candidates = {
        "A": [at(UTRECHT, "store", 5, 3.0), at(DELFT, "store", 5, 1.0), at(DC, "warehouse", 5, 80)]
    }

    [first] = StockPriorityDistance().route(needs, candidates).assignments
    candidates["A"] = candidates["A"][:2]
    [second] = StockPriorityDistance().route(needs, candidates).assignments

    assert first.place == DC
    assert second.place == DELFT


def test_a_line_no_location_has_in_full_is_split_and_what_is_left_is_short() -> None:
    route = StockPriorityDistance().route(
        [Need("A", 12), Need("B", 4)],
        {"A": [at(UTRECHT, "store", 3), at(DC, "warehouse", 10)], "B": [at(DELFT, "store", 1)]},
    )

    assert [(a.sku, a.place.code, a.qty) for a in route.assignments] == [
        ("A", "dc:tilburg", 10),
        ("A", "store:utrecht", 2),
        ("B", "store:delft", 1),
    ]
    assert route.short == {"B": 3}
    assert all(a.why.startswith("split") for a in route.assignments)


def test_a_router_that_does_not_exist_stops_the_start() -> None:
    with pytest.raises(ValueError, match="NAADLOOS_ORDER_ROUTER"):
        build_runtime(Settings(database_url="sqlite:///unused.db", order_router="nowhere:Router"))
    assert isinstance(
        load("naadloos.orders.service.routing:StockPriorityDistance"), StockPriorityDistance
    )


@pytest.fixture
def kiosk(client: TestClient, store: dict[str, str]) -> dict[str, str]:
    """A kiosk that sells but does not ship, holding 12 jackets."""
    body = {"code": "kiosk:hal", "name": "Kiosk", "kind": "store", "capabilities": ["sell"]}
    assert client.post("/v1/locations", json=body, headers=store).status_code == 201
    move(client, store, "receipt", "JAS-M", "kiosk:hal", 12)
    return store


def shipped_from_kiosk(client: TestClient, key: dict[str, str], qty: int) -> Any:
    cart = new_cart(client, key, channel="web", location="kiosk:hal")
    assert add(client, key, cart, "JAS-M", qty).status_code == 200
    return checkout(client, key, cart, **SHIP_HOME)


def test_endless_aisle_routes_what_the_shop_cannot_ship(
    client: TestClient, kiosk: dict[str, str]
) -> None:
    response = shipped_from_kiosk(client, kiosk, 2)

    assert response.status_code == 201, response.text
    order = response.json()
    assert [(x["location"], x["qty"]) for x in order["lines"]] == [("dc:tilburg", 2)]
    [why] = order["history"][0]["details"]["routing"]
    assert (why["location"], why["qty"]) == ("dc:tilburg", 2)
    assert "one parcel" in why["why"]
    assert level(client, kiosk, "JAS-M", "kiosk:hal")["reserved"] == 0
    assert level(client, kiosk, "JAS-M", "dc:tilburg")["allocated"] == 2


def test_a_line_is_split_over_locations_when_none_has_it_all(
    client: TestClient, kiosk: dict[str, str]
) -> None:
    response = shipped_from_kiosk(client, kiosk, 12)

    assert response.status_code == 201, response.text
    lines = sorted((x["location"], x["qty"]) for x in response.json()["lines"])
    assert lines == [("dc:tilburg", 10), ("store:utrecht", 2)]
    assert level(client, kiosk, "JAS-M", "store:utrecht")["allocated"] == 2


def test_what_no_location_has_is_refused_and_the_cart_keeps_its_hold(
    client: TestClient, kiosk: dict[str, str]
) -> None:
    move(client, kiosk, "receipt", "JAS-M", "kiosk:hal", 10)  # 22 at the kiosk, 13 to ship

    response = shipped_from_kiosk(client, kiosk, 20)

    assert response.status_code == 409, response.text
    assert response.json()["missing"] == [
        {"sku": "JAS-M", "location": None, "requested": 20, "available": 13}
    ]
    assert level(client, kiosk, "JAS-M", "kiosk:hal")["reserved"] == 20
    assert level(client, kiosk, "JAS-M", "dc:tilburg")["allocated"] == 0


def test_among_stores_the_one_nearest_the_address_ships(
    client: TestClient, kiosk: dict[str, str]
) -> None:
    for code, lat, lon in (("store:breda", 51.59, 4.78), ("store:haarlem", 52.38, 4.64)):
        body = {"code": code, "name": code, "kind": "store", "latitude": lat, "longitude": lon}
        assert client.post("/v1/locations", json=body, headers=kiosk).status_code == 201
        move(client, kiosk, "receipt", "PET-1", code, 5)
    move(client, kiosk, "receipt", "PET-1", "kiosk:hal", 1)
    cart = new_cart(client, kiosk, location="kiosk:hal")
    add(client, kiosk, cart, "PET-1", 1)

    response = checkout(client, kiosk, cart, **SHIP_HOME, near="52.37,4.89")  # Amsterdam

    assert response.status_code == 201, response.text
    [line] = response.json()["lines"]
    assert line["location"] == "store:haarlem"
    [why] = response.json()["history"][0]["details"]["routing"]
    assert "km" in why["why"]
