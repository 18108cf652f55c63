from __future__ import annotations

from fastapi.testclient import TestClient

from tests.inventory.conftest import move

UTRECHT_CENTRAAL = "52.0894,5.1100"


def test_availability_per_location_with_distance_and_pickup(
    client: TestClient, shop: dict[str, str]
) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 2)
    move(client, shop, "receipt", "JAS-M", "store:amsterdam", 1)
    move(client, shop, "receipt", "JAS-M", "dc:tilburg", 40)
    client.post(
        "/v1/reservations",
        json={"channel": "web", "sku": "JAS-M", "location": "store:amsterdam", "qty": 1},
        headers=shop,
    )

    body = client.get(
        "/v1/availability",
        params={"sku": "JAS-M", "channel": "web", "near": UTRECHT_CENTRAAL},
        headers=shop,
    ).json()

    assert body["total"] == 42
    rows = [(p["location"], p["available"], p["pickup"], p["ship"]) for p in body["locations"]]
    assert rows == [
        ("store:utrecht", 2, True, True),
        ("store:amsterdam", 0, False, False),
        ("dc:tilburg", 40, False, True),
    ]
    assert 0.5 < body["locations"][0]["distance_km"] < 1.5
    assert 33 < body["locations"][1]["distance_km"] < 35  # as the crow flies


def test_a_radius_keeps_what_is_near(client: TestClient, shop: dict[str, str]) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 2)
    move(client, shop, "receipt", "JAS-M", "store:amsterdam", 1)

    body = client.get(
        "/v1/availability",
        params={"sku": "JAS-M", "channel": "app", "near": UTRECHT_CENTRAAL, "radius_km": 10},
        headers=shop,
    ).json()

    assert [p["location"] for p in body["locations"]] == ["store:utrecht"]
    assert body["total"] == 2


def test_bad_availability_queries_name_the_field(client: TestClient, shop: dict[str, str]) -> None:
    for params, field in [
        ({"sku": "NOPE", "channel": "web"}, "sku"),
        ({"sku": "JAS-M", "channel": "nope"}, "channel"),
        ({"sku": "JAS-M", "channel": "web", "near": "utrecht"}, "near"),
        ({"sku": "JAS-M", "channel": "web", "radius_km": 5}, "radius_km"),
    ]:
        response = client.get("/v1/availability", params=params, headers=shop)
        assert 400 <= response.status_code < 500, params
        assert field in response.text


def test_scanning_a_barcode_in_the_store(client: TestClient, shop: dict[str, str]) -> None:
    move(client, shop, "receipt", "JAS-M", "store:utrecht", 2)

    body = client.get("/v1/products/by-gtin/8712345678906", headers=shop).json()

    assert body["sku"] == "JAS-M"
    assert body["product"]["name"] == "Regenjas Wadden"
    assert body["availability"]["total"] == 2
    bad = client.get("/v1/products/by-gtin/8712345678907", headers=shop)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_gtin")
    unknown = client.get("/v1/products/by-gtin/4006381333931", headers=shop)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "variant_not_found")
