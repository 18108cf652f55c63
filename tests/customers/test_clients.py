"""The official Segment and RudderStack Python libraries, pointed at a local naadloos, work
unchanged: the real clients over real HTTP (the RudderStack one gzips its batches)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from naadloos.api.app import create_app
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory
from tests.servers import serving


@pytest.fixture
def base_url(runtime: Runtime) -> Iterator[str]:
    with serving(create_app(runtime=runtime, dispatch=False)) as url:
        yield url


def _customer(client: TestClient, key: dict[str, str], identifier: str) -> dict[str, object]:
    response = client.get("/v1/customers", params={"identifier": identifier}, headers=key)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def test_the_segment_library_works_unchanged(
    base_url: str, api_key: KeyFactory, client: TestClient
) -> None:
    write_key = api_key("track")["Authorization"].removeprefix("Bearer ")
    errors: list[object] = []
    segment = SegmentClient(
        write_key=write_key, host=base_url, on_error=lambda e, _b: errors.append(e)
    )

    segment.track(anonymous_id="seg-device", event="Product Viewed", properties={"sku": "S-1"})
    segment.identify(
        user_id="seg-user", anonymous_id="seg-device", traits={"email": "seg@stijlenco.nl"}
    )
    segment.page(user_id="seg-user", name="Checkout")
    segment.flush()
    segment.shutdown()

    assert errors == []
    person = _customer(client, api_key("customers:read"), "email:seg@stijlenco.nl")
    assert [e["name"] for e in person["timeline"]][::-1] == [  # type: ignore[index, union-attr]
        "Product Viewed",
        None,
        "Checkout",
    ]


def test_the_rudderstack_library_works_unchanged(
    base_url: str, api_key: KeyFactory, client: TestClient
) -> None:
    write_key = api_key("track")["Authorization"].removeprefix("Bearer ")
    errors: list[object] = []
    rudder = RudderClient(
        write_key=write_key, host=base_url, on_error=lambda e, _b: errors.append(e)
    )

    rudder.identify(user_id="rud-user", traits={"phone": "06 2345 6789"})
    rudder.track(user_id="rud-user", event="Added To Cart", properties={"sku": "R-1"})
    rudder.alias(previous_id="rud-old-device", user_id="rud-user")
    rudder.flush()
    rudder.shutdown()

    assert errors == []
    person = _customer(client, api_key("customers:read"), "phone:+31623456789")
    identifiers = {(i["type"], i["value"]) for i in person["identifiers"]}  # type: ignore[attr-defined,index]
    assert ("anonymous_id", "rud-old-device") in identifiers
    assert len(person["timeline"]) == 3  # type: ignore[arg-type]
