"""The order the app tries its routes in. Starlette matches a request against the routes one
by one, and the first that matches takes it; a checkout's route was the 62nd (some 7,000 CPU
instructions each to refuse). `busiest_first` moves the routes of the busiest paths forward,
but never past a route that could match one of the same paths: any request reaches the route
it reached before (tests/api/test_route_order.py compares every route's paths)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Route

# Busiest first: what every shopper's device sends, then what a shop and its tills call most.
BUSIEST = (
    "/v1/batch",
    "/v1/track",
    "/v1/page",
    "/v1/screen",
    "/v1/identify",
    "/v1/carts",
    "/v1/availability",
    "/v1/search",
    "/v1/products",
    "/v1/reservations",
    "/v1/till",
    "/v1/stock",
)


def _segments(route: BaseRoute) -> list[str | None] | None:
    """The path's segments, None for a parameter's; None for a path no template describes
    (a mount, a parameter that spans segments)."""
    if not isinstance(route, Route) or ":path}" in route.path_format:
        return None
    return [None if "{" in s else s for s in route.path_format.split("/")]


def could_share_a_path(a: BaseRoute, b: BaseRoute) -> bool:
    """Whether some request path could match both routes (whatever their methods)."""
    left, right = _segments(a), _segments(b)
    if left is None or right is None:
        return True
    return len(left) == len(right) and all(
        x is None or y is None or x == y for x, y in zip(left, right, strict=True)
    )


def _rank(route: BaseRoute, busiest: Sequence[str]) -> int:
    path = route.path_format if isinstance(route, Route) else ""
    for n, prefix in enumerate(busiest):
        if path == prefix or path.startswith(prefix + "/"):
            return n
    return len(busiest)


def busiest_first(routes: Sequence[BaseRoute], busiest: Sequence[str] = BUSIEST) -> list[BaseRoute]:
    """`routes` with those under the `busiest` paths first, in that order, each kept behind
    every earlier route that could match one of its paths; the others keep their order."""
    wanted = sorted(range(len(routes)), key=lambda i: (_rank(routes[i], busiest), i))
    before = {
        i: [j for j in range(i) if could_share_a_path(routes[i], routes[j])]
        for i in range(len(routes))
    }
    placed: set[int] = set()
    ordered: list[BaseRoute] = []
    while len(ordered) < len(routes):
        i = next(i for i in wanted if i not in placed and all(j in placed for j in before[i]))
        placed.add(i)
        ordered.append(routes[i])
    return ordered
