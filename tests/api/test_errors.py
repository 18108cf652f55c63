from __future__ import annotations

from fastapi.testclient import TestClient


def test_malformed_json_is_400_problem(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/channels",
        content=b'{"code": "x", ',
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_json"


def test_a_missing_field_is_named(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/v1/channels", json={"code": "x", "kind": "web"}, headers=admin)

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:naadloos:problem:validation_failed"
    assert problem["errors"] == [{"field": "body.name", "message": "Field required"}]
    assert "body.name" in problem["detail"]


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    wrong_method = client.delete("/health")

    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
