"""Where a checkout's units come from: the pickup location for click & collect; for a parcel,
where each line is held if that location ships, else where the order router sends it (split
over locations when one cannot serve it all, each part with the router's reason)."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from naadloos.inventory.schemas import LocationCapability
from naadloos.inventory.service import availability as atp
from naadloos.inventory.service import locations
from naadloos.orders.models import Cart
from naadloos.orders.service.cart_view import Line
from naadloos.orders.service.routing import Assignment, Candidate, Need, Router

LineKey = tuple[str, int]


class Dest(NamedTuple):
    """Where (part of) a line's units come from, and why there if it was routed."""

    place: locations.Place
    qty: int
    why: str | None


def plan(
    session: Session,
    cart: Cart,
    lines: list[Line],
    target: locations.Place | None,
    *,
    near: tuple[float, float] | None,
    router: Router,
) -> tuple[dict[LineKey, list[Dest]], list[dict[str, Any]]]:
    """Where each line's units come from: the pickup location; for a parcel, where the line
    is held if that location ships, else where the router sends it. And what no location has."""
    here = {(x.sku, x.location_id): locations.Place(x.location_id, x.location) for x in lines}
    if target is not None:
        return {k: [Dest(target, x.qty, None)] for k, x in zip(here, lines, strict=True)}, []
    held_at = locations.by_codes(session, [x.location for x in lines])
    ships = {
        x.location_id: LocationCapability.SHIP.value in held_at[x.location].capabilities
        for x in lines
    }
    plan = {
        (x.sku, x.location_id): [Dest(here[(x.sku, x.location_id)], x.qty, None)]
        for x in lines
        if ships[x.location_id]
    }
    routed = [x for x in lines if not ships[x.location_id]]
    if not routed:
        return plan, []
    wanted: dict[str, int] = {}
    for x in routed:
        wanted[x.sku] = wanted.get(x.sku, 0) + x.qty
    candidates = {
        sku: shipping_candidates(session, sku, cart.channel, near) for sku in sorted(wanted)
    }
    route = router.route([Need(sku, qty) for sku, qty in sorted(wanted.items())], candidates)
    pool: dict[str, list[Assignment]] = {}
    for a in route.assignments:
        pool.setdefault(a.sku, []).append(a)
    for x in routed:  # hand each line its share of the SKU's assignments, in order
        need, dests = x.qty, list[Dest]()
        for a in pool.get(x.sku, []):
            if need == 0:
                break
            part = min(need, a.qty - sum(d.qty for d in dests if d.place == a.place))
            if part > 0:
                dests.append(Dest(a.place, part, a.why))
                need -= part
        plan[(x.sku, x.location_id)] = dests
    missing = [
        {"sku": sku, "location": None, "requested": wanted[sku], "available": wanted[sku] - left}
        for sku, left in sorted(route.short.items())
    ]
    return plan, missing


def shipping_candidates(
    session: Session,
    sku: str,
    channel: str,
    near: tuple[float, float] | None,
) -> list[Candidate]:
    """The locations that can ship the SKU now, with what they can promise the channel."""
    rows = atp.availability(session, sku, channel)["locations"]
    shipping = [r for r in rows if r["ship"]]
    if not shipping:
        return []
    places = locations.by_codes(session, [r["location"] for r in shipping])
    found: list[Candidate] = []
    for row in shipping:
        at = places[row["location"]]
        distance = None
        if near is not None and at.latitude is not None and at.longitude is not None:
            distance = atp.distance_km(near[0], near[1], at.latitude, at.longitude)
        found.append(
            Candidate(locations.Place(at.id, at.code), row["kind"], row["available"], distance)
        )
    return found
