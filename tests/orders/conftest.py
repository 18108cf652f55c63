from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KeyFactory
from tests.inventory.conftest import move


@pytest.fixture
def staff(api_key: KeyFactory) -> dict[str, str]:
    """A key that stocks the shop and sells: catalog, inventory and orders."""
    return api_key("catalog:write", "inventory:write", "orders:write")


@pytest.fixture
def store(client: TestClient, staff: dict[str, str]) -> dict[str, str]:
    """A jacket (89.95, 21% VAT) and a cap (19.95); Utrecht store has 3 jackets and 5 caps, the
    Tilburg warehouse 10 jackets, Amsterdam none; a pickup point that holds no stock."""
    product = {
        "code": "P-1001",
        "name": "Regenjas Wadden",
        "variants": [
            {"sku": "JAS-M", "price": {"amount": 8995, "vat_rate": "21"}},
            {"sku": "PET-1", "price": {"amount": 1995, "vat_rate": "21"}},
            {"sku": "NOPRICE"},
        ],
    }
    assert client.post("/v1/products", json=product, headers=staff).status_code == 201
    for code, kind in (
        ("store:utrecht", "store"),
        ("store:amsterdam", "store"),
        ("dc:tilburg", "warehouse"),
        ("pickup:station", "pickup_point"),
    ):
        body = {"code": code, "name": code, "kind": kind}
        assert client.post("/v1/locations", json=body, headers=staff).status_code == 201
    move(client, staff, "receipt", "JAS-M", "store:utrecht", 3)
    move(client, staff, "receipt", "PET-1", "store:utrecht", 5)
    move(client, staff, "receipt", "JAS-M", "dc:tilburg", 10)
    move(client, staff, "receipt", "NOPRICE", "store:utrecht", 1)
    return staff


def new_cart(client: TestClient, key: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/carts", json={"channel": "web", **body}, headers=key)
    assert response.status_code == 201, response.text
    cart: dict[str, Any] = response.json()
    return cart


def add(  # noqa: PLR0917 - reads as the shopper does: this cart, this SKU, so many
    client: TestClient,
    key: dict[str, str],
    cart: dict[str, Any],
    sku: str,
    qty: int,
    location: str | None = None,
) -> Any:
    body: dict[str, Any] = {"sku": sku, "qty": qty}
    if location is not None:
        body["location"] = location
    return client.post(f"/v1/carts/{cart['id']}/lines", json=body, headers=key)


def checkout(client: TestClient, key: dict[str, str], cart: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/v1/carts/{cart['id']}/checkout", json=body, headers=key)


COLLECT_UTRECHT = {"fulfilment": "collect", "pickup_location": "store:utrecht"}
SHIP_HOME = {
    "fulfilment": "ship",
    "ship_to": {"street": "Damrak", "house_number": "1", "postcode": "1012LG", "city": "Amsterdam"},
    "contact": {"email": "jan@example.nl"},
}
