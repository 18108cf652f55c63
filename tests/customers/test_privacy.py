from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import LargeBinary, String, Text, cast, func, or_, select

from naadloos.kit.db import Base
from naadloos.kit.models import OutboxEvent
from naadloos.runtime import Runtime
from tests.customers.conftest import customer


def grant(client: TestClient, key: dict[str, str], pid: str, status: str, **kw: str) -> Any:
    body = {"channel": "email", "purpose": "marketing", "status": status, **kw}
    return client.post(f"/v1/customers/{pid}/consents", json=body, headers=key)


def test_consent_is_recorded_per_channel_and_purpose_with_its_history(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    client.post("/v1/identify", json={"userId": "c1"}, headers=tracker)
    pid = customer(client, writer, "user_id:c1")["profile"]["id"]

    assert grant(client, writer, pid, "granted", source="web").status_code == 201
    response = grant(client, writer, pid, "withdrawn", source="store:utrecht")
    grant(client, writer, pid, "granted", purpose="service", channel="sms")

    assert response.status_code == 201
    consents = client.get(f"/v1/customers/{pid}/consents", headers=writer).json()
    current = {(c["channel"], c["purpose"]): c["status"] for c in consents["current"]}
    assert current == {("email", "marketing"): "withdrawn", ("sms", "service"): "granted"}
    assert [c["status"] for c in consents["history"]] == ["granted", "withdrawn", "granted"]
    view = customer(client, writer, "user_id:c1")
    assert {(c["channel"], c["status"]) for c in view["consent"]} == {
        ("email", "withdrawn"),
        ("sms", "granted"),
    }


def test_an_unknown_purpose_is_named(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    client.post("/v1/identify", json={"userId": "c2"}, headers=tracker)
    pid = customer(client, writer, "user_id:c2")["profile"]["id"]

    response = grant(client, writer, pid, "granted", purpose="spam")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.purpose"


def test_a_merge_keeps_the_most_restrictive_consent(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    client.post("/v1/page", json={"anonymousId": "web-dev", "name": "x"}, headers=tracker)
    client.post(
        "/v1/identify",
        json={"userId": "store-customer", "traits": {"email": "m@kpn.nl"}},
        headers=tracker,
    )
    web = customer(client, writer, "anonymous_id:web-dev")["profile"]["id"]
    store = customer(client, writer, "user_id:store-customer")["profile"]["id"]
    grant(client, writer, web, "granted")  # newsletter box ticked on the web
    grant(client, writer, store, "denied")  # said no at the till

    client.post(
        "/v1/identify", json={"anonymousId": "web-dev", "userId": "store-customer"}, headers=tracker
    )

    merged = customer(client, writer, "user_id:store-customer")
    email = {c["purpose"]: c for c in merged["consent"] if c["channel"] == "email"}
    assert email["marketing"]["status"] == "denied"
    assert email["marketing"]["source"] == "merge"


def test_export_holds_everything_about_the_person(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    client.post(
        "/v1/identify",
        json={
            "userId": "e1",
            "anonymousId": "d-e1",
            "traits": {"email": "e1@kpn.nl", "city": "Delft"},
        },
        headers=tracker,
    )
    client.post("/v1/track", json={"userId": "e1", "event": "Order Completed"}, headers=tracker)
    pid = customer(client, writer, "user_id:e1")["profile"]["id"]
    grant(client, writer, pid, "granted")

    data = client.get(f"/v1/customers/{pid}/export", headers=writer).json()

    assert data["person"]["traits"]["city"] == "Delft"
    assert {i["value"] for i in data["identifiers"]} == {"e1", "d-e1", "e1@kpn.nl"}
    assert [e["name"] for e in data["events"]] == [None, "Order Completed"]
    assert data["consents"][0]["status"] == "granted"
    assert len(data["links"]) == 2
    reader_only = client.get(
        f"/v1/customers/{pid}/export", headers={"Authorization": tracker["Authorization"]}
    )
    assert reader_only.status_code == 403


def _rows_mentioning(runtime: Runtime, needles: list[str]) -> list[str]:
    """Every row, in every table, whose text contains one of the needles."""
    found: list[str] = []
    with runtime.db.unit_of_work(write=False) as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if not isinstance(c.type, LargeBinary)]
            conditions = [
                cast(c, Text if isinstance(c.type, String) else String).contains(n)
                for c in columns
                for n in needles
            ]
            count = session.scalar(select(func.count()).select_from(table).where(or_(*conditions)))
            if count:
                found.append(f"{table.name}: {count}")
    return found


def test_erasure_leaves_nothing_and_replays_cannot_bring_the_person_back(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str], runtime: Runtime
) -> None:
    messages = [
        {"type": "page", "anonymousId": "erase-dev-2", "name": "Home", "messageId": "erase-msg-1"},
        {
            "type": "identify",
            "userId": "erase-me",
            "anonymousId": "erase-dev-1",
            "traits": {"email": "erase.me@kpn.nl", "first_name": "Eva"},
            "messageId": "erase-msg-2",
        },
        {
            "type": "identify",
            "userId": "erase-me",
            "anonymousId": "erase-dev-2",
            "messageId": "erase-msg-3",
        },  # merges the two devices' profiles
        {
            "type": "track",
            "userId": "erase-me",
            "event": "Order Completed",
            "messageId": "erase-msg-4",
        },
    ]
    client.post("/v1/batch", json={"batch": messages}, headers=tracker)
    client.post(
        "/v1/identify", json={"userId": "someone-else", "traits": {"city": "Ede"}}, headers=tracker
    )
    person = customer(client, writer, "email:erase.me@kpn.nl")["profile"]["id"]
    grant(client, writer, person, "granted")
    needles = [
        "erase-me",
        "erase-dev",
        "erase-msg",
        "erase.me@kpn.nl",
        "Eva",
        person,
        person.replace("-", ""),
    ]
    before = _rows_mentioning(runtime, needles)
    assert {row.split(":")[0] for row in before} >= {
        "persons",
        "identifiers",
        "identity_links",
        "customer_events",
        "consents",
    }

    response = client.delete(f"/v1/customers/{person}", headers=writer)

    assert response.status_code == 200, response.text
    assert response.json()["erased"] == person
    # Only the notice that tells other systems to erase too still names the (random) id.
    assert _rows_mentioning(runtime, needles) == ["outbox_events: 1"]
    with runtime.db.unit_of_work(write=False) as session:
        notice = session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq.desc())).first()
    assert notice is not None
    assert notice.name == "CustomerErased"
    assert notice.payload["person_id"] == person
    assert client.get(f"/v1/customers/{person}/360", headers=writer).status_code == 404
    assert customer(client, writer, "user_id:someone-else")["profile"]["traits"] == {"city": "Ede"}

    replay = client.post("/v1/batch", json={"batch": messages}, headers=tracker)

    assert replay.status_code == 422  # every message refused
    assert {r["code"] for r in replay.json()["rejected"]} == {"erased"}
    assert _rows_mentioning(runtime, needles) == ["outbox_events: 1"]
