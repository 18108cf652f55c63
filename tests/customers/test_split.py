from __future__ import annotations

from fastapi.testclient import TestClient

from tests.customers.conftest import customer


def test_removing_a_wrong_link_splits_the_person_with_their_events_and_traits(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
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
    assistant = customer(client, writer, "user_id:assistant")
    assert "customer-phone" in {i["value"] for i in assistant["identifiers"]}
    explanation = client.get(
        f"/v1/customers/{assistant['profile']['id']}/explain", headers=writer
    ).json()
    wrong = next(
        link
        for link in explanation["links"]
        if link["to_identifier"] == "anonymous_id:customer-phone"
    )

    response = client.delete(
        f"/v1/identity/links/{wrong['seq']}",
        params={"reason": "assistant logged in on a customer's phone"},
        headers=writer,
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["person_id"] == assistant["profile"]["id"]
    assert len(result["split_off"]) == 1
    cas = customer(client, writer, "email:cas@kpn.nl")
    assert cas["profile"]["id"] == result["split_off"][0]
    assert cas["profile"]["traits"]["first_name"] == "Cas"
    assert "Boots" in {e["name"] for e in cas["timeline"]}
    assistant = customer(client, writer, "user_id:assistant")
    assert assistant["profile"]["traits"]["first_name"] == "Bo"
    assert "Boots" not in {e["name"] for e in assistant["timeline"]}
    again = client.delete(
        f"/v1/identity/links/{wrong['seq']}", params={"reason": "twice"}, headers=writer
    )
    assert again.status_code == 409


def test_removing_the_only_link_of_an_identifier_splits_it_off(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    client.post(
        "/v1/identify",
        json={"userId": "u", "anonymousId": "d", "traits": {"email": "u@kpn.nl"}},
        headers=tracker,
    )
    pid = customer(client, writer, "user_id:u")["profile"]["id"]
    links = client.get(f"/v1/customers/{pid}/explain", headers=writer).json()["links"]
    to_email = next(link for link in links if link["to_identifier"] == "email:u@kpn.nl")

    response = client.delete(
        f"/v1/identity/links/{to_email['seq']}", params={"reason": "testing"}, headers=writer
    )

    assert response.status_code == 200
    [alone] = response.json()["split_off"]
    assert customer(client, writer, "email:u@kpn.nl")["profile"]["id"] == alone
    assert customer(client, writer, "anonymous_id:d")["profile"]["id"] == pid
    missing = client.delete("/v1/identity/links/999999", params={"reason": "nope"}, headers=writer)
    assert missing.status_code == 404
    assert missing.json()["code"] == "link_not_found"
