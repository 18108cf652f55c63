from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from naadloos.kit.models import OutboxEvent
from naadloos.runtime import Runtime

DEFAULTS = {"web", "app", "email", "sms", "whatsapp", "phone", "chat"}


def store(code: str = "store:utrecht", **overrides: object) -> dict[str, object]:
    return {"code": code, "name": "Store Utrecht", "kind": "store", **overrides}


def test_a_fresh_database_starts_with_the_default_channels(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.get("/v1/channels", headers=admin)

    assert response.status_code == 200
    assert {c["code"] for c in response.json()["items"]} == DEFAULTS
    assert response.json()["next_cursor"] is None


def test_a_store_is_created_with_the_store_defaults(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post("/v1/channels", json=store(), headers=admin)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["code"] == "store:utrecht"
    assert body["capabilities"] == ["browse", "buy", "pay", "pickup", "return", "support"]
    assert response.headers["location"] == "/v1/channels/store:utrecht"
    assert client.get("/v1/channels/store:utrecht", headers=admin).json() == body


def test_creating_a_channel_writes_its_event_in_the_same_transaction(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    client.post("/v1/channels", json=store(), headers=admin)

    with runtime.db.unit_of_work(write=False) as session:
        events = session.scalars(select(OutboxEvent)).all()
    assert [(e.name, e.payload["code"]) for e in events] == [("ChannelCreated", "store:utrecht")]


def test_a_duplicate_code_is_a_conflict_and_changes_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/v1/channels", json=store(), headers=admin)

    response = client.post("/v1/channels", json=store(name="Other"), headers=admin)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "channel_exists"
    assert client.get("/v1/channels/store:utrecht", headers=admin).json()["name"] == "Store Utrecht"


def test_pickup_is_refused_for_a_channel_without_a_place(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(
        "/v1/channels",
        json={"code": "insta", "name": "Instagram", "kind": "social", "capabilities": ["pickup"]},
        headers=admin,
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["field"] == "capabilities"
    assert "physical" in problem["detail"]
    assert client.get("/v1/channels/insta", headers=admin).status_code == 404


def test_bad_fields_are_named(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/channels",
        json={"code": "Store Utrecht", "name": "", "kind": "shop", "colour": "red"},
        headers=admin,
    )

    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.code", "body.name", "body.kind", "body.colour"}


def test_an_unknown_capability_is_named(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/channels", json=store(capabilities=["buy", "teleport"]), headers=admin
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.capabilities.1"


def test_update_renames_and_changes_capabilities(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    response = client.patch(
        "/v1/channels/web",
        json={"name": "Webshop NL", "capabilities": ["browse", "buy"]},
        headers=admin,
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Webshop NL"
    assert response.json()["capabilities"] == ["browse", "buy"]
    with runtime.db.unit_of_work(write=False) as session:
        event = session.scalars(select(OutboxEvent)).one()
    assert event.name == "ChannelUpdated"
    assert event.payload["changed"] == ["name", "capabilities"]


def test_an_update_that_changes_nothing_emits_nothing(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    current = client.get("/v1/channels/sms", headers=admin).json()

    client.patch("/v1/channels/sms", json={"name": current["name"]}, headers=admin)

    with runtime.db.unit_of_work(write=False) as session:
        assert session.scalars(select(OutboxEvent)).all() == []


def test_updating_an_unknown_channel_is_404(client: TestClient, admin: dict[str, str]) -> None:
    response = client.patch("/v1/channels/nope", json={"name": "x"}, headers=admin)

    assert response.status_code == 404
    assert response.json()["code"] == "channel_not_found"


def test_the_matrix_shows_what_is_offered_where(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/v1/channels", json=store(), headers=admin)
    client.patch("/v1/channels/chat", json={"active": False}, headers=admin)

    matrix = client.get("/v1/channels/matrix", headers=admin).json()

    rows = {row["code"]: row for row in matrix["channels"]}
    assert "chat" not in rows  # deactivated channels offer nothing
    assert rows["store:utrecht"]["capabilities"]["pickup"] is True
    assert rows["web"]["capabilities"]["pickup"] is False
    assert matrix["by_capability"]["pickup"] == ["store:utrecht"]
    assert set(matrix["by_capability"]["notify"]) == {"app", "email", "sms", "whatsapp", "phone"}
    assert matrix["capabilities"] == [
        "browse",
        "buy",
        "pay",
        "pickup",
        "return",
        "support",
        "notify",
    ]
    everything = client.get("/v1/channels/matrix?include_inactive=true", headers=admin).json()
    assert "chat" in {row["code"] for row in everything["channels"]}


def test_channels_are_listed_a_page_at_a_time(client: TestClient, admin: dict[str, str]) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/channels", params=params, headers=admin).json()
        seen += [c["code"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == sorted(DEFAULTS)


def test_channels_filter_by_kind(client: TestClient, admin: dict[str, str]) -> None:
    page = client.get("/v1/channels", params={"kind": "chat"}, headers=admin).json()

    assert {c["code"] for c in page["items"]} == {"chat", "whatsapp"}


def test_a_bad_cursor_is_named(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/v1/channels", params={"cursor": "!!nonsense"}, headers=admin)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


def test_creating_a_channel_publishes_channel_created(
    client: TestClient, admin: dict[str, str], runtime: Runtime, deliver: Callable[[], int]
) -> None:
    received: list[str] = []
    runtime.bus.subscribe(
        "ChannelCreated", "test", lambda _s, e: received.append(e.payload["code"])
    )

    client.post("/v1/channels", json=store(), headers=admin)

    assert deliver() == 1
    assert received == ["store:utrecht"]
