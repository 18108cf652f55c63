from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from naadloos import migrations
from naadloos.api.app import create_app
from naadloos.kit import auth
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime


def test_health_needs_nothing(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_checks_the_database(client: TestClient, runtime: Runtime) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": runtime.db.dialect}


def test_ready_is_503_when_the_schema_is_behind(runtime: Runtime) -> None:
    with runtime.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        with TestClient(create_app(runtime=runtime, dispatch=False)) as client:
            response = client.get("/ready")
    finally:
        with runtime.db.engine.begin() as conn:
            conn.execute(
                text("UPDATE alembic_version SET version_num = :head"),
                {"head": migrations.head_revision(runtime.settings)},
            )

    assert response.status_code == 503
    assert "naadloos db upgrade" in response.json()["detail"]


def test_ready_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    nowhere = Settings(database_url=f"sqlite:///{tmp_path}/no-such-dir/naadloos.db")

    with TestClient(create_app(nowhere, dispatch=False)) as client:
        response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["check"] == "database"


def test_metrics_count_requests_by_route(client: TestClient, admin: dict[str, str]) -> None:
    client.get("/v1/channels/web", headers=admin)

    body = client.get("/metrics").text

    assert (
        'naadloos_http_requests_total{method="GET",route="/v1/channels/{code}",status="200"}'
        in body
    )
    assert "naadloos_http_request_duration_seconds_bucket" in body


def test_the_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/health", headers={"X-Request-ID": "till-7-000123"})
    made = client.get("/health")

    assert given.headers["x-request-id"] == "till-7-000123"
    assert len(made.headers["x-request-id"]) == 32


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    assert "/v1/channels/matrix" in spec["paths"]
    create = spec["paths"]["/v1/channels"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])


def test_openapi_says_which_operations_need_an_api_key(client: TestClient) -> None:
    """Swagger's Authorize button sends the key to exactly the operations that need one."""
    spec = client.get("/openapi.json").json()

    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    keyed = [spec["paths"]["/v1/reservations"]["post"], spec["paths"]["/v1/channels"]["get"]]
    for operation in keyed:
        assert operation["security"] == [{"HTTPBearer": []}]
    open_ = [
        spec["paths"]["/health"]["get"],
        spec["paths"]["/v1/payments/{provider}/webhook"]["post"],
    ]
    for operation in open_:
        assert "security" not in operation


def test_the_docs_page_needs_no_internet(client: TestClient) -> None:
    page = client.get("/docs")

    assert page.status_code == 200
    assert "cdn." not in page.text
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    script = client.get("/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000


def test_a_write_while_sqlite_is_locked_elsewhere_is_503_and_writes_nothing(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/naadloos.db", sqlite_busy_timeout_ms=50)
    migrations.upgrade(settings)
    app = create_app(settings, dispatch=False)
    with app.state.db.unit_of_work() as session:
        key = auth.create_key(session, name="admin", scopes=["*"]).key
    holder = sqlite3.connect(tmp_path / "naadloos.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than the timeout
    new = {"code": "web:new", "name": "New", "kind": "web"}
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        try:
            response = client.post("/v1/channels", json=new, headers=headers)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        with app.state.db.unit_of_work(write=False) as session:
            stored = session.scalar(text("SELECT count(*) FROM channels WHERE code = 'web:new'"))
        retried = client.post("/v1/channels", json=new, headers=headers)

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "1"
    assert stored == 0
    assert retried.status_code == 201
