from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from naadloos.channels.models import Channel
from naadloos.kit.models import OutboxEvent
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory

BODY = {"code": "store:utrecht", "name": "Store Utrecht", "kind": "store"}


def count(runtime: Runtime, model: type[Channel] | type[OutboxEvent]) -> int:
    with runtime.db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_replay_returns_the_first_response_and_creates_nothing(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    headers = {**admin, "Idempotency-Key": "create-utrecht-1"}
    before = count(runtime, OutboxEvent)
    first = client.post("/v1/channels", json=BODY, headers=headers)
    channels, events = count(runtime, Channel), count(runtime, OutboxEvent)
    assert events == before + 1  # its ChannelCreated, written with the stored response

    replay = client.post("/v1/channels", json=BODY, headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert count(runtime, Channel) == channels
    assert count(runtime, OutboxEvent) == events


def test_the_same_key_with_another_request_is_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    headers = {**admin, "Idempotency-Key": "k-1"}
    client.post("/v1/channels", json=BODY, headers=headers)

    response = client.post("/v1/channels", json={**BODY, "code": "store:other"}, headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert client.get("/v1/channels/store:other", headers=admin).status_code == 404


def test_a_failed_request_leaves_its_key_free_for_a_corrected_retry(
    client: TestClient, admin: dict[str, str]
) -> None:
    headers = {**admin, "Idempotency-Key": "k-2"}
    bad = client.post(
        "/v1/channels", json={**BODY, "capabilities": ["pickup", "fly"]}, headers=headers
    )
    assert bad.status_code == 422

    retry = client.post("/v1/channels", json=BODY, headers=headers)

    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers


def test_keys_belong_to_one_api_key(
    client: TestClient, api_key: KeyFactory, runtime: Runtime
) -> None:
    one, other = api_key("channels:write"), api_key("channels:write")
    client.post("/v1/channels", json=BODY, headers={**one, "Idempotency-Key": "shared"})

    response = client.post(
        "/v1/channels",
        json={**BODY, "code": "store:rotterdam"},
        headers={**other, "Idempotency-Key": "shared"},
    )

    assert response.status_code == 201
    assert count(runtime, Channel) == 9  # seven defaults and the two stores


def test_an_overlong_key_is_named(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/channels", json=BODY, headers={**admin, "Idempotency-Key": "x" * 256}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_concurrent_retries_create_once(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    headers = {**admin, "Idempotency-Key": "race"}
    results: list[tuple[int, str]] = []
    start = threading.Barrier(6)

    def post() -> None:
        start.wait()
        response = client.post("/v1/channels", json=BODY, headers=headers)
        results.append((response.status_code, response.json().get("id", "")))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert {status for status, _ in results} == {201}
    assert len({channel_id for _, channel_id in results}) == 1
    assert count(runtime, Channel) == 8
    assert count(runtime, OutboxEvent) == 1
