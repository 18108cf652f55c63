from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KeyFactory

LOCATIONS: list[dict[str, Any]] = [
    {
        "code": "store:utrecht",
        "name": "Stijl & Co Utrecht",
        "kind": "store",
        "address": {"street": "Oudegracht", "house_number": "12", "city": "Utrecht"},
        "latitude": 52.0907,
        "longitude": 5.1214,
        "opening_hours": {"mon": ["09:00-18:00"], "sat": ["10:00-17:00"]},
    },
    {
        "code": "store:amsterdam",
        "name": "Stijl & Co Amsterdam",
        "kind": "store",
        "latitude": 52.3676,
        "longitude": 4.9041,
    },
    {
        "code": "dc:tilburg",
        "name": "Distributiecentrum Tilburg",
        "kind": "warehouse",
        "latitude": 51.5555,
        "longitude": 5.0913,
    },
]


@pytest.fixture
def stock(api_key: KeyFactory) -> dict[str, str]:
    """A stock clerk's key: inventory and catalog."""
    return api_key("inventory:write", "catalog:write")


def move(  # noqa: PLR0917 - reads as the clerk says it: receipt, JAS-M, utrecht, 10
    client: TestClient,
    key: dict[str, str],
    kind: str,
    sku: str,
    location: str,
    qty: int,
    **extra: Any,
) -> dict[str, Any]:
    response = client.post(
        "/v1/stock/movements",
        json={"kind": kind, "sku": sku, "location": location, "quantity": qty, **extra},
        headers=key,
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def level(client: TestClient, key: dict[str, str], sku: str, location: str) -> dict[str, Any]:
    response = client.get(
        "/v1/stock/levels", params={"sku": sku, "location": location}, headers=key
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["items"]
    body: dict[str, Any] = row
    return body


@pytest.fixture
def shop(client: TestClient, stock: dict[str, str]) -> dict[str, str]:
    """A jacket in two sizes, two stores and a warehouse; no stock yet."""
    product = {
        "code": "P-1001",
        "name": "Regenjas Wadden",
        "variants": [
            {"sku": "JAS-M", "gtin": "8712345678906", "price": {"amount": 8995, "vat_rate": "21"}},
            {"sku": "JAS-L", "price": {"amount": 8995, "vat_rate": "21"}},
        ],
    }
    assert client.post("/v1/products", json=product, headers=stock).status_code == 201
    for location in LOCATIONS:
        response = client.post("/v1/locations", json=location, headers=stock)
        assert response.status_code == 201, response.text
    return stock
