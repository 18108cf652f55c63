"""House rules that are cheaper to check than to remember."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from naadloos.api.app import create_app
from naadloos.kit.http import TransactionalRoute
from naadloos.kit.idempotency import HEADER, idempotency
from naadloos.kit.settings import Settings

PUBLIC = {"/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"}
SIGNED = {"/v1/payments/{provider}/webhook"}  # the provider's signature instead of an API key


def _routes() -> list[APIRoute]:
    app = create_app(Settings(database_url="sqlite:///unused.db"), dispatch=False)
    return [r for r in app.routes if isinstance(r, APIRoute)]


def _calls(route: APIRoute) -> set[object]:
    found: set[object] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        found.add(dep.call)
        stack.extend(dep.dependencies)
    return found


def test_every_api_route_runs_in_one_transaction() -> None:
    for route in _routes():
        if route.path in PUBLIC:
            continue
        assert route.path.startswith("/v1/"), route.path
        assert isinstance(route, TransactionalRoute), route.path


def test_every_api_route_answers_401_without_a_key(client: TestClient) -> None:
    """Whatever the path's values and the body, a caller without a key learns nothing else."""
    for route in _routes():
        if route.path in PUBLIC | SIGNED:
            continue
        path = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", route.path)
        for method in route.methods:
            response = client.request(method, path, json={})
            assert response.status_code == 401, f"{method} {route.path}: {response.status_code}"


def test_the_rules_see_every_module_router() -> None:
    """The checks above run over the app's routes: every router's routes must be among them."""
    paths = {route.path for route in _routes()}
    for path in ("/v1/channels", "/v1/reservations", "/v1/carts", "/v1/orders/{order_id}/payments"):
        assert path in paths, path


def test_every_creating_post_accepts_an_idempotency_key() -> None:
    for route in _routes():
        if "POST" in route.methods and route.status_code == 201:
            # An endpoint that keeps the key itself (starting a payment) reads the header.
            own = {param.alias for param in route.dependant.header_params} >= {HEADER}
            assert idempotency in _calls(route) or own, f"POST {route.path} ignores {HEADER}"
