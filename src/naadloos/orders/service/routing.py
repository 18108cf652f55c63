"""Order routing: which locations ship which units. A strategy is any object with `route`;
the retailer names theirs in `NAADLOOS_ORDER_ROUTER` (`module:Class`). Each assignment says
why it was chosen, and the order's history keeps it.

The default, `StockPriorityDistance`: one location that has every line is best (one parcel);
among those, the higher priority (warehouses before stores, so shops keep their shelves), then
the nearer one, then the one with more to spare. When no single location has everything, each
line goes to the best location that has all of it, and a line that no location has in full is
split over several in that same order."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, Protocol

from naadloos.inventory.service.locations import Place

KIND_PRIORITY = {"warehouse": 0, "store": 1}  # lower ships first; anything else after


class Need(NamedTuple):
    sku: str
    qty: int


class Candidate(NamedTuple):
    """A location that can ship the SKU, with what it has to promise for the channel."""

    place: Place
    kind: str
    available: int
    distance_km: float | None


class Assignment(NamedTuple):
    sku: str
    place: Place
    qty: int
    why: str


@dataclass(frozen=True)
class Route:
    assignments: list[Assignment]
    short: dict[str, int]  # sku -> units no location could promise


class Router(Protocol):
    def route(self, needs: list[Need], candidates: dict[str, list[Candidate]]) -> Route: ...


def _rank(c: Candidate) -> tuple[int, float, int, str]:
    distance = c.distance_km if c.distance_km is not None else float("inf")
    return (KIND_PRIORITY.get(c.kind, len(KIND_PRIORITY)), distance, -c.available, c.place.code)


def _describe(c: Candidate) -> str:
    where = "" if c.distance_km is None else f", {c.distance_km:.1f} km"
    return f"{c.kind} {c.place.code} ({c.available} available{where})"


class StockPriorityDistance:
    def route(self, needs: list[Need], candidates: dict[str, list[Candidate]]) -> Route:
        whole = self._one_location(needs, candidates)
        if whole is not None:
            why = f"one parcel: {_describe(whole)} has every line"
            return Route([Assignment(n.sku, whole.place, n.qty, why) for n in needs], {})
        assignments: list[Assignment] = []
        short: dict[str, int] = {}
        for need in needs:
            ranked = sorted((c for c in candidates.get(need.sku, []) if c.available > 0), key=_rank)
            full = next((c for c in ranked if c.available >= need.qty), None)
            if full is not None:
                why = f"no location has every line; {_describe(full)} has all of this one"
                assignments.append(Assignment(need.sku, full.place, need.qty, why))
                continue
            left = need.qty
            for c in ranked:
                part = min(left, c.available)
                why = f"split: no location has all {need.qty}; {_describe(c)} gives {part}"
                assignments.append(Assignment(need.sku, c.place, part, why))
                left -= part
                if left == 0:
                    break
            if left:
                short[need.sku] = left
        return Route(assignments, short)

    @staticmethod
    def _one_location(
        needs: list[Need], candidates: dict[str, list[Candidate]]
    ) -> Candidate | None:
        by_place: dict[int, list[Candidate]] = {}
        for need in needs:
            for c in candidates.get(need.sku, []):
                if c.available >= need.qty:
                    by_place.setdefault(c.place.id, []).append(c)
        complete = [cs for cs in by_place.values() if len(cs) == len(needs)]
        if not complete:
            return None
        # Rank a location by its tightest line: a store with one unit to spare ranks below one
        # with plenty.
        best = min(complete, key=lambda cs: _rank(min(cs, key=lambda c: c.available)))
        return min(best, key=lambda c: c.available)


@lru_cache
def load(path: str) -> Router:
    """The strategy at `module:Class` (instantiated without arguments)."""
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise ValueError(f"order router {path!r}: use module:Class")
    router: Router = getattr(importlib.import_module(module_name), name)()
    return router
