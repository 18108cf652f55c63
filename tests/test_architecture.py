"""House rules that are cheaper to check than to remember."""

from __future__ import annotations

from fastapi.routing import APIRoute

from naadloos.api.app import create_app
from naadloos.kit.auth import authenticate
from naadloos.kit.http import TransactionalRoute
from naadloos.kit.idempotency import idempotency
from naadloos.kit.settings import Settings

PUBLIC = {"/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"}


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


def test_every_api_route_needs_a_key_and_runs_in_one_transaction() -> None:
    for route in _routes():
        if route.path in PUBLIC:
            continue
        assert route.path.startswith("/v1/"), route.path
        assert isinstance(route, TransactionalRoute), route.path
        assert authenticate in _calls(route), f"{route.path} is not authenticated"


def test_every_creating_post_accepts_an_idempotency_key() -> None:
    for route in _routes():
        if "POST" in route.methods and route.status_code == 201:
            assert idempotency in _calls(route), f"POST {route.path} ignores Idempotency-Key"
