"""The app tries its busiest routes first (`api.route_order`): every request must still reach
the route that the order of declaration gave it, or the same 405 or 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import BaseRoute, Match, Route

from naadloos.api import route_order
from naadloos.api.app import create_app
from naadloos.kit.settings import Settings

busiest_first = route_order.busiest_first  # the test's app keeps the order declared


def _declared(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> list[BaseRoute]:
    monkeypatch.setattr(route_order, "busiest_first", list)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db"), dispatch=False)
    return list(app.router.routes)


def _taken_by(routes: list[BaseRoute], method: str, path: str) -> tuple[BaseRoute, Match] | None:
    """The route that Starlette's loop gives the request: the first full match, else the
    first partial one (a 405)."""
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    partial = None
    for route in routes:
        match, _ = route.matches(dict(scope))
        if match == Match.FULL:
            return route, match
        if match == Match.PARTIAL and partial is None:
            partial = (route, match)
    return partial


def test_every_request_reaches_the_route_it_reached_as_declared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    declared = _declared(monkeypatch, tmp_path)
    reordered = busiest_first(declared)
    assert sorted(map(id, reordered)) == sorted(map(id, declared))
    templates = {r.path_format for r in declared if hasattr(r, "path_format")}
    paths = set()
    for template in templates:  # each parameter as a word, as a literal of another route
        for fill in ("x-1", "by-gtin", "matrix", "exceptions", "lines", "payments", "webhook"):
            paths.add(re.sub(r"\{[^}]+\}", fill, template))
    paths |= {p + "/" for p in paths} | {p + "/more" for p in paths} | {"/", "/v1", "/v2/carts"}
    compared = 0
    for path in sorted(paths):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            assert _taken_by(reordered, method, path) == _taken_by(declared, method, path), (
                method,
                path,
            )
            compared += 1
    assert compared > 2_000


def test_the_busiest_routes_come_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    declared = _declared(monkeypatch, tmp_path)
    reordered = [getattr(r, "path_format", "") for r in busiest_first(declared)]

    assert reordered.index("/v1/batch") < 10
    assert reordered.index("/v1/carts/{cart_id}/checkout") < 25
    assert reordered.index("/v1/reservations") < 40
    assert reordered.index("/v1/reservations") < reordered.index("/v1/customers")


def test_routes_that_could_share_a_path_keep_their_order() -> None:
    def route(path: str) -> BaseRoute:
        return Route(path, lambda _: None)

    general, special, other = route("/v1/things/{id}"), route("/v1/things/new"), route("/v1/x")
    assert route_order.could_share_a_path(general, special)
    assert not route_order.could_share_a_path(special, other)

    ordered = busiest_first([other, general, special], busiest=("/v1/things",))

    assert ordered == [general, special, other]
