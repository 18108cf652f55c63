from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KeyFactory


@pytest.fixture
def tracker(api_key: KeyFactory) -> dict[str, str]:
    """A tracking write key (scope `track`)."""
    return api_key("track")


@pytest.fixture
def reader(api_key: KeyFactory) -> dict[str, str]:
    return api_key("customers:read")


@pytest.fixture
def writer(api_key: KeyFactory) -> dict[str, str]:
    """A service agent's or privacy officer's key (scope `customers:write`)."""
    return api_key("customers:write")


def customer(client: TestClient, key: dict[str, str], identifier: str) -> dict[str, Any]:
    """The 360 of the person an identifier (`type:value`) belongs to."""
    response = client.get("/v1/customers", params={"identifier": identifier}, headers=key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
