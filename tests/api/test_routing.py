"""Routes refuse a path that lacks their literal beginning without matching it in full
(`kit.http.TransactionalRoute.matches`): the answer must be the one FastAPI's matching gives."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match

from naadloos.kit.http import TransactionalRoute
from naadloos.runtime import Runtime


def _scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": root_path + path, "root_path": root_path}


def test_every_route_matches_as_fastapi_matches(runtime: Runtime, client: Any) -> None:
    routes = [r for r in client.app.router.routes if isinstance(r, TransactionalRoute)]
    assert len(routes) > 50
    paths = {re.sub(r"\{[^}]+\}", "x-1", r.path_format) for r in routes}
    paths |= {p + "/" for p in paths} | {p + "/more" for p in paths} | {"/", "/v1", "/v2/carts"}
    compared = 0
    for route in routes:
        for path in paths:
            for method in ("GET", "POST"):
                for root_path in ("", "/naadloos"):
                    scope = _scope(method, path, root_path)
                    ours = route.matches(dict(scope))
                    theirs = APIRoute.matches(route, dict(scope))
                    assert ours[0] == theirs[0], (route.path_format, method, root_path + path)
                    if ours[0] != Match.NONE:
                        assert ours[1]["path_params"] == theirs[1]["path_params"]
                    compared += 1
    assert compared > 10_000


def test_requests_reach_their_routes(client: Any, admin: dict[str, str]) -> None:
    assert client.get("/v1/channels", headers=admin).status_code == 200
    assert client.get("/v1/carts/not-a-cart", headers=admin).status_code in (404, 422)
    assert client.delete("/v1/channels", headers=admin).status_code == 405
    assert client.get("/v1/nowhere", headers=admin).status_code == 404
