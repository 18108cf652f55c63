from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from naadloos.kit import auth
from naadloos.kit.errors import ValidationFailed
from naadloos.kit.models import ApiKey, IdempotencyKey
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory


def test_without_a_key_the_api_answers_401_with_a_problem(client: TestClient) -> None:
    response = client.get("/v1/channels")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "unauthorized"


def test_a_wrong_key_is_401(client: TestClient, admin: dict[str, str]) -> None:
    real = admin["Authorization"].removeprefix("Bearer ")
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")

    for key in (forged, "nl_nonsense", "sk_live_123"):
        response = client.get("/v1/channels", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401, key


def test_a_key_without_the_scope_is_403_naming_the_scope(
    client: TestClient, api_key: KeyFactory
) -> None:
    reader = api_key("channels:read")

    assert client.get("/v1/channels", headers=reader).status_code == 200
    response = client.post(
        "/v1/channels", json={"code": "x", "name": "X", "kind": "web"}, headers=reader
    )

    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    assert response.json()["required_scope"] == "channels:write"


def test_the_key_is_checked_before_the_body_is_read(
    client: TestClient, api_key: KeyFactory
) -> None:
    """A caller without a key (or the scope) learns nothing of what the body should be."""
    json_type = {"Content-Type": "application/json"}
    cart = "/v1/carts/00000000-0000-0000-0000-000000000000/lines"

    assert client.post("/v1/reservations", content=b"{not", headers=json_type).status_code == 401
    assert client.post(cart, json={"qty": "many"}).status_code == 401
    reader = {**json_type, **api_key("inventory:read")}
    refused = client.post("/v1/reservations", content=b"{not", headers=reader)
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "inventory:write"


def test_a_key_without_the_scope_claims_no_idempotency_key(
    client: TestClient, api_key: KeyFactory, runtime: Runtime
) -> None:
    reader = api_key("channels:read")
    headers = {**reader, "Idempotency-Key": "first-try"}

    response = client.post(
        "/v1/channels", json={"code": "x", "name": "X", "kind": "web"}, headers=headers
    )

    assert response.status_code == 403
    with runtime.db.unit_of_work() as session:
        assert session.scalars(select(IdempotencyKey)).all() == []


def test_write_scope_includes_read_and_track_alone_reads_nothing(
    client: TestClient, api_key: KeyFactory
) -> None:
    assert client.get("/v1/channels", headers=api_key("channels:write")).status_code == 200
    assert client.get("/v1/channels", headers=api_key("track")).status_code == 403


def test_a_revoked_key_stops_working_within_the_cache_time(
    client: TestClient, runtime: Runtime
) -> None:
    now = [1000.0]
    cache = client.app.state.key_cache  # type: ignore[attr-defined]
    cache.clock = lambda: now[0]
    with runtime.db.unit_of_work() as session:
        created = auth.create_key(session, name="till", scopes=["channels:read"])
    headers = {"Authorization": f"Bearer {created.key}"}
    assert client.get("/v1/channels", headers=headers).status_code == 200

    with runtime.db.unit_of_work() as session:
        auth.revoke_key(session, created.record.prefix)
    now[0] += runtime.settings.api_key_cache_seconds + 0.1

    response = client.get("/v1/channels", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_basic_auth_with_the_key_as_user_is_accepted(
    client: TestClient, api_key: KeyFactory
) -> None:
    key = api_key("channels:read")["Authorization"].removeprefix("Bearer ")
    basic = base64.b64encode(f"{key}:".encode()).decode()

    response = client.get("/v1/channels", headers={"Authorization": f"Basic {basic}"})

    assert response.status_code == 200


def test_only_a_hash_of_the_key_is_stored(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session:
        created = auth.create_key(session, name="x", scopes=["*"], channel="web")

    with runtime.db.unit_of_work(write=False) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.id == created.record.id)).one()
        principal = auth.verify_key(session, created.key)
    secret = created.key.split("_", 2)[2]  # the secret itself may contain "_"
    assert secret.encode() not in row.secret_hash
    assert secret not in repr(row.__dict__)
    assert principal.channel == "web"
    assert principal.allows("channels:write")


def test_unknown_scopes_are_refused_by_name(runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session, pytest.raises(ValidationFailed) as refused:
        auth.create_key(session, name="x", scopes=["channels:read", "orders:steal"])

    assert refused.value.extra["errors"][0]["field"] == "scopes"
    assert "orders:steal" in refused.value.detail


def test_a_key_can_ask_who_it_is(client: TestClient, api_key: KeyFactory) -> None:
    till = api_key("channels:read", "track", channel="store:amsterdam")

    me = client.get("/v1/me", headers=till).json()

    assert me["channel"] == "store:amsterdam"
    assert me["scopes"] == ["channels:read", "track"]
    assert client.get("/v1/me").status_code == 401
