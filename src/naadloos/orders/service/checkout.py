"""Checkout: a cart becomes an order in one transaction, or nothing changes.

The cart is claimed first (a conditional UPDATE: of two checkouts of one cart, one wins). Then
every line's hold becomes an allocation, in key order (sku, location id) so that concurrent
checkouts wait for each other instead of deadlocking. A hold that lapsed is taken again if the
stock is still there; a click & collect line held elsewhere moves to the pickup location; a
parcel's line held where nothing ships is routed (`routing`), split if it must be. A line that
cannot be had is noted and the others still tried, so the refusal lists everything that is
missing; then the transaction rolls back, the cart is open again with its holds as they were."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from naadloos.catalog.schemas import PriceOut
from naadloos.catalog.service import prices
from naadloos.inventory.schemas import LocationCapability, ReservationStatus
from naadloos.inventory.service import availability as atp
from naadloos.inventory.service import locations, reservation_changes
from naadloos.inventory.service.reservations import InsufficientStock
from naadloos.kit.errors import Conflict
from naadloos.kit.ids import new_id
from naadloos.kit.money import vat_included
from naadloos.kit.time import utcnow
from naadloos.orders.models import Cart
from naadloos.orders.schemas import (
    PICKED_UP,
    CartStatus,
    CheckoutIn,
    Fulfilment,
    OrderChangeOut,
    OrderLineOut,
    OrderOut,
    OrderStatus,
)
from naadloos.orders.service import book, cart_view, carts, orders, sourcing
from naadloos.orders.service.cart_view import Line
from naadloos.orders.service.carts import Policy
from naadloos.orders.service.codes import pickup_code, short_code
from naadloos.orders.service.sourcing import Dest, LineKey

ORDER_NUMBER_LENGTH = 10


class CartEmpty(Conflict):
    code = "cart_empty"
    title = "The cart is empty"


class Unavailable(Conflict):
    code = "insufficient_stock"
    title = "Insufficient stock"


class Unpriced(Conflict):
    code = "no_price"
    title = "A product has no price"


@dataclass(frozen=True)
class _Step:
    """Work on one stock row: `release` a line's hold there, or `take` units there."""

    key: tuple[str, int]
    take: bool
    line: Line
    place: locations.Place
    qty: int


Taken = dict[LineKey, list[tuple[uuid.UUID, locations.Place, int]]]


def _pickup(session: Session, data: CheckoutIn) -> locations.Place | None:
    """The pickup location (for collect), checked; None when the order ships."""
    if data.fulfilment not in PICKED_UP:
        return None
    code = data.pickup_location or ""  # the schema requires it for collect
    return locations.place_that(
        session,
        code,
        LocationCapability.PICKUP,
        field="pickup_location",
        unable="does not hand out orders",
    )


def _steps(lines: list[Line], plan: dict[LineKey, list[Dest]]) -> list[_Step]:
    """In key order over every stock row touched: releases where lines leave, takes where
    their units come from."""
    steps: list[_Step] = []
    for line in lines:
        here = locations.Place(line.location_id, line.location)
        dests = plan[(line.sku, line.location_id)]
        if [(d.place.id, d.qty) for d in dests] != [(here.id, line.qty)]:
            steps.append(_Step((line.sku, here.id), False, line, here, line.qty))
        steps += [_Step((line.sku, d.place.id), True, line, d.place, d.qty) for d in dests]
    return sorted(steps, key=lambda s: (s.key, s.take))


def _allocate(
    session: Session,
    cart: Cart,
    lines: list[Line],
    plan: dict[LineKey, list[Dest]],
    *,
    policy: Policy,
    by: str | None,
) -> tuple[Taken, list[dict[str, Any]]]:
    """Every line's units allocated where the plan says: (line key -> [(reservation, place,
    qty)]), and what is missing."""
    taken: Taken = {}
    missing: list[dict[str, Any]] = []
    steps = _steps(lines, plan)
    if all(s.take for s in steps) and all(line.hold is ReservationStatus.HELD for line in lines):
        # The usual case: every hold still holds, nothing moves. One claim for all; the
        # inventory changes the stock rows in key order.
        claimed = reservation_changes.allocate_held(
            session, [line.reservation_id for line in lines]
        )
        for line in lines:
            if line.reservation_id in claimed:
                place = locations.Place(line.location_id, line.location)
                taken[(line.sku, line.location_id)] = [(line.reservation_id, place, line.qty)]
    for step in steps:
        line_key = (step.line.sku, step.line.location_id)
        if not step.take:
            carts.release_hold(session, step.line)
            continue
        if line_key in taken and step.place.id == step.line.location_id:
            continue  # allocated above, with every other line
        moved = step.place.id != step.line.location_id or step.qty != step.line.qty
        if not moved and reservation_changes.allocate_held(session, [step.line.reservation_id]):
            taken[line_key] = [(step.line.reservation_id, step.place, step.qty)]
            continue
        # The hold lapsed (or the units come from elsewhere): take them if they are there.
        try:
            rid = carts.hold(
                session, cart, step.line.sku, step.place, step.qty, policy=policy, by=by
            ).id
        except InsufficientStock as exc:
            missing.append(
                {
                    "sku": step.line.sku,
                    "location": step.place.code,
                    "requested": step.qty,
                    "available": exc.extra.get("available", 0),
                }
            )
            continue
        reservation_changes.allocate_held(session, [rid])
        taken.setdefault(line_key, []).append((rid, step.place, step.qty))
    return taken, missing


def _order_lines(
    order_id: uuid.UUID, lines: list[Line], taken: Taken, current: dict[str, PriceOut]
) -> tuple[list[dict[str, Any]], list[OrderLineOut], int]:
    """The order's lines as rows and as shown, priced now, and the VAT in them."""
    order_lines: list[OrderLineOut] = []
    rows: list[dict[str, Any]] = []
    vat_total = 0
    for line in lines:  # a routed line may come from several places: a line each
        price = current[line.sku]
        for rid, place, qty in taken[(line.sku, line.location_id)]:
            amount = price.amount * qty
            vat_total += vat_included(amount, price.vat_rate)
            rows.append(
                {
                    "order_id": order_id,
                    "line": len(rows),
                    "sku": line.sku,
                    "location_id": place.id,
                    "quantity": qty,
                    "unit_price": price.amount,
                    "vat_rate": str(price.vat_rate.normalize()),
                    "reservation_id": rid,
                }
            )
            order_lines.append(
                OrderLineOut(
                    sku=line.sku,
                    location=place.code,
                    qty=qty,
                    unit_price=price.amount,
                    vat_rate=price.vat_rate.normalize(),
                    line_total=amount,
                )
            )
    return rows, order_lines, vat_total


def _start(
    data: CheckoutIn, policy: Policy, now: datetime
) -> tuple[OrderStatus, datetime | None, datetime | None]:
    """The new order's status, `collect_by` and `pay_by`."""
    if data.fulfilment is Fulfilment.RESERVE:
        # Reserve and pay in store: the units are at the desk already, until `collect_by`.
        return (
            OrderStatus.READY_FOR_PICKUP,
            now + timedelta(hours=policy.reserve_within_hours),
            None,
        )
    if data.pay_online:
        # The units are kept for the order while the customer pays, until `pay_by`.
        return (
            OrderStatus.AWAITING_PAYMENT,
            None,
            now + timedelta(minutes=policy.pay_within_minutes),
        )
    return OrderStatus.PLACED, None, None


def checkout(
    session: Session,
    cart_id: uuid.UUID,
    data: CheckoutIn,
    *,
    policy: Policy,
    by: str | None,
    channel: str | None,
) -> OrderOut:
    cart = carts.claim_open(session, cart_id, to=CartStatus.CHECKED_OUT)
    lines = cart_view.lines_of(session, cart.id)
    if not lines:
        raise CartEmpty(f"cart {cart.id} has no lines")
    skus = sorted({line.sku for line in lines})
    current = prices.prices_by_sku(session, skus, channel=cart.channel)
    for sku in skus:
        if sku not in current:
            raise Unpriced(f"{sku!r} has no price: it cannot be sold yet", sku=sku)
    currencies = {p.currency for p in current.values()}
    if len(currencies) > 1:
        raise Conflict(f"the cart mixes currencies {sorted(currencies)}", field="lines")
    target = _pickup(session, data)
    near = None if data.near is None else atp.parse_near(data.near)
    plan, unroutable = sourcing.plan(session, cart, lines, target, near=near, router=policy.router)
    if unroutable:
        summary = ", ".join(f"{m['sku']} (no location has {m['requested']})" for m in unroutable)
        raise Unavailable(f"not enough stock for {summary}", missing=unroutable)
    taken, missing = _allocate(session, cart, lines, plan, policy=policy, by=by)
    if missing:
        summary = ", ".join(f"{m['sku']} at {m['location']}" for m in missing)
        raise Unavailable(f"not enough stock for {summary}", missing=missing)

    now = utcnow()
    order_id = new_id()
    currency = currencies.pop()
    rows, order_lines, vat_total = _order_lines(order_id, lines, taken, current)
    total = sum(line.line_total for line in order_lines)
    customer_id = cart_view.customer_of(session, cart)
    status, collect_by, pay_by = _start(data, policy, now)
    details: dict[str, Any] = {"cart": str(cart.id), "fulfilment": data.fulfilment.value}
    if collect_by is not None:
        details["collect_by"] = collect_by.isoformat()
    if pay_by is not None:
        details["pay_by"] = pay_by.isoformat()
    routed = [
        {"sku": line.sku, "location": d.place.code, "qty": d.qty, "why": d.why}
        for line in lines
        for d in plan[(line.sku, line.location_id)]
        if d.why is not None
    ]
    if routed:
        details["routing"] = routed
    order = OrderOut(
        id=order_id,
        number=short_code(ORDER_NUMBER_LENGTH),
        status=status,
        channel=cart.channel,
        customer_id=customer_id,
        cart_id=cart.id,
        fulfilment=data.fulfilment,
        pickup_location=None if target is None else target.code,
        pickup_code=pickup_code() if data.fulfilment in PICKED_UP else None,
        collect_by=collect_by,
        pay_by=pay_by,
        ship_to=None if data.ship_to is None else data.ship_to.model_dump(),
        contact=data.contact.model_dump(exclude_none=True),
        currency=currency,
        total=total,
        vat_total=vat_total,
        lines=order_lines,
        history=[
            OrderChangeOut(
                seq=1,
                from_status=None,
                to_status=status,
                by=by,
                channel=channel or cart.channel,
                reason=None,
                details=details,
                at=now,
            )
        ],
        created_at=now,
        updated_at=now,
    )
    if not book.store_order(session, order, rows, None if target is None else target.id):
        # Only an order number drawn twice (1 in 10^15) can clash: the client retries.
        raise Conflict("could not draw a free order number; try again")
    carts.link_order(cart, order_id)
    if status is not OrderStatus.AWAITING_PAYMENT:  # else when the payment is authorised
        orders.announce_placed(session, order)
    if data.fulfilment is Fulfilment.RESERVE:
        orders.announce_ready(session, book.get_order(session, order.id))
    return order
