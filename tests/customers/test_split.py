from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import KeyFactory


@pytest.fixture
def tracker(api_key: KeyFactory) -> dict[str, str]:
    return api_key("track")


@pytest.fixture
def agent(api_key: KeyFactory) -> dict[str, str]:
    return api_key("customers:write")


def person_of(client: TestClient, key: dict[str, str], identifier: str) -> dict[str, Any]:
    response = client.get("/v1/customers", params={"identifier": identifier}, headers=key)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_removing_a_wrong_link_splits_the_person_with_their_events_and_traits(
    client: TestClient, tracker: dict[str, str], agent: dict[str, str]
) -> None:
    """A shop assistant logged in on a customer's phone by mistake: the phone's browsing and
    the customer were merged into the assistant. Removing that link gives it back."""
    client.post(
        "/v1/identify",
        json={"userId": "assistant", "anonymousId": "assistant-pc", "traits": {"first_name": "Bo"}},
        headers=tracker,
    )
    client.post(
        "/v1/page", json={"anonymousId": "customer-phone", "name": "Boots"}, headers=tracker
    )
    client.post(
        "/v1/identify",
        json={
            "anonymousId": "customer-phone",
            "traits": {"first_name": "Cas", "email": "cas@kpn.nl"},
        },
        headers=tracker,
    )
    client.post(
        "/v1/identify",
        json={"userId": "assistant", "anonymousId": "customer-phone"},
        headers=tracker,
    )
    assistant = person_of(client, agent, "user_id:assistant")
    assert "customer-phone" in {i["value"] for i in assistant["identifiers"]}
    explanation = client.get(
        f"/v1/customers/{assistant['profile']['id']}/explain", headers=agent
    ).json()
    wrong = next(
        link
        for link in explanation["links"]
        if link["to_identifier"] == "anonymous_id:customer-phone"
    )

    response = client.delete(
        f"/v1/identity/links/{wrong['seq']}",
        params={"reason": "assistant logged in on a customer's phone"},
        headers=agent,
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["person_id"] == assistant["profile"]["id"]
    assert len(result["split_off"]) == 1
    customer = person_of(client, agent, "email:cas@kpn.nl")
    assert customer["profile"]["id"] == result["split_off"][0]
    assert customer["profile"]["traits"]["first_name"] == "Cas"
    assert "Boots" in {e["name"] for e in customer["timeline"]}
    assistant = person_of(client, agent, "user_id:assistant")
    assert assistant["profile"]["traits"]["first_name"] == "Bo"
    assert "Boots" not in {e["name"] for e in assistant["timeline"]}
    again = client.delete(
        f"/v1/identity/links/{wrong['seq']}", params={"reason": "twice"}, headers=agent
    )
    assert again.status_code == 409


def test_removing_the_only_link_of_an_identifier_splits_it_off(
    client: TestClient, tracker: dict[str, str], agent: dict[str, str]
) -> None:
    client.post(
        "/v1/identify",
        json={"userId": "u", "anonymousId": "d", "traits": {"email": "u@kpn.nl"}},
        headers=tracker,
    )
    pid = person_of(client, agent, "user_id:u")["profile"]["id"]
    links = client.get(f"/v1/customers/{pid}/explain", headers=agent).json()["links"]
    to_email = next(link for link in links if link["to_identifier"] == "email:u@kpn.nl")

    response = client.delete(
        f"/v1/identity/links/{to_email['seq']}", params={"reason": "testing"}, headers=agent
    )

    assert response.status_code == 200
    [alone] = response.json()["split_off"]
    assert person_of(client, agent, "email:u@kpn.nl")["profile"]["id"] == alone
    assert person_of(client, agent, "anonymous_id:d")["profile"]["id"] == pid
    missing = client.delete("/v1/identity/links/999999", params={"reason": "nope"}, headers=agent)
    assert missing.status_code == 404
    assert missing.json()["code"] == "link_not_found"
