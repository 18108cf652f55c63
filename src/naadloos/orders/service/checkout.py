"""Checkout: a cart becomes an order in one transaction, or nothing changes.

The cart is claimed first (a conditional UPDATE: of two checkouts of one cart, one wins). Then
every line's hold becomes an allocation, in key order (sku, location id) so that concurrent
checkouts wait for each other instead of deadlocking. A hold that lapsed is taken again if the
stock is still there; a click & collect line held elsewhere moves to the pickup location. A line
that cannot be had is noted and the others still tried, so the refusal lists everything that is
missing; then the transaction rolls back, the cart is open again with its holds as they were."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from naadloos.catalog.service import prices
from naadloos.inventory.schemas import LocationCapability, ReservationStatus
from naadloos.inventory.service import locations, reservations
from naadloos.inventory.service.reservations import InsufficientStock
from naadloos.kit.errors import Conflict, NotFound, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.money import vat_included
from naadloos.kit.time import utcnow
from naadloos.orders.events import OrderPlaced
from naadloos.orders.models import Cart
from naadloos.orders.schemas import (
    CartStatus,
    CheckoutIn,
    Fulfilment,
    OrderChangeOut,
    OrderLineOut,
    OrderOut,
    OrderStatus,
)
from naadloos.orders.service import carts, orders
from naadloos.orders.service.carts import Line, Policy
from naadloos.orders.service.codes import pickup_code, short_code

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
    """Work on one stock row: `release` a hold there, or `take` a line's units there."""

    key: tuple[str, int]
    take: bool
    line: Line
    place: locations.Place


def _pickup(session: Session, data: CheckoutIn) -> locations.Place | None:
    """The pickup location (for collect), checked; None when each line ships from where it
    is held."""
    if data.fulfilment is not Fulfilment.COLLECT:
        return None
    code = data.pickup_location or ""  # the schema requires it for collect
    try:
        location = locations.get_location(session, code, field="pickup_location")
    except NotFound as exc:
        raise ValidationFailed.field("pickup_location", exc.detail) from exc
    if not location.active or LocationCapability.PICKUP.value not in location.capabilities:
        raise ValidationFailed.field("pickup_location", f"{code!r} does not hand out orders")
    return locations.Place(location.id, location.code)


def _check_shipping(session: Session, lines: list[Line]) -> None:
    for i, line in enumerate(lines):
        location = locations.get_location(session, line.location)
        if LocationCapability.SHIP.value not in location.capabilities:
            raise ValidationFailed.field(
                f"lines.{i}.location",
                f"{line.location!r} does not ship: move the line to a location that does",
            )


def _steps(lines: list[Line], target: locations.Place | None) -> list[_Step]:
    """In key order over every stock row touched: releases where lines leave, takes where
    they are collected."""
    steps: list[_Step] = []
    for line in lines:
        here = locations.Place(line.location_id, line.location)
        there = target or here
        if there.id != here.id:
            steps.append(_Step((line.sku, here.id), take=False, line=line, place=here))
        steps.append(_Step((line.sku, there.id), take=True, line=line, place=there))
    return sorted(steps, key=lambda s: (s.key, s.take))


def _allocate(
    session: Session,
    cart: Cart,
    lines: list[Line],
    target: locations.Place | None,
    *,
    policy: Policy,
    by: str | None,
) -> tuple[dict[tuple[str, int], tuple[uuid.UUID, locations.Place]], list[dict[str, Any]]]:
    """Every line's units allocated: (line key -> reservation, place), and what is missing."""
    taken: dict[tuple[str, int], tuple[uuid.UUID, locations.Place]] = {}
    missing: list[dict[str, Any]] = []
    holds = reservations.states(session, [line.reservation_id for line in lines])
    staying = target is None or all(line.location_id == target.id for line in lines)
    if staying and all(
        holds.get(line.reservation_id, (None,))[0] is ReservationStatus.HELD for line in lines
    ):
        # The usual case: every hold still holds, nothing moves. One claim for all; the
        # inventory changes the stock rows in key order.
        claimed = reservations.allocate_held(session, [line.reservation_id for line in lines])
        for line in lines:
            if line.reservation_id in claimed:
                place = locations.Place(line.location_id, line.location)
                taken[(line.sku, line.location_id)] = (line.reservation_id, place)
    for step in _steps(lines, target):
        line_key = (step.line.sku, step.line.location_id)
        if not step.take:
            carts.release_hold(session, step.line.reservation_id)
            continue
        if line_key in taken:
            continue  # allocated above, with every other line
        moved = step.place.id != step.line.location_id
        if not moved and reservations.allocate_held(session, [step.line.reservation_id]):
            taken[line_key] = (step.line.reservation_id, step.place)
            continue
        # The hold lapsed (or the line moves): take the units again if they are there.
        try:
            rid = carts.hold(
                session, cart, step.line.sku, step.place, step.line.qty, policy=policy, by=by
            )
        except InsufficientStock as exc:
            missing.append(
                {
                    "sku": step.line.sku,
                    "location": step.place.code,
                    "requested": step.line.qty,
                    "available": exc.extra.get("available", 0),
                }
            )
            continue
        reservations.allocate_held(session, [rid])
        taken[line_key] = (rid, step.place)
    return taken, missing


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
    lines = carts.lines_of(session, cart.id)
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
    if target is None:
        _check_shipping(session, lines)

    taken, missing = _allocate(session, cart, lines, target, policy=policy, by=by)
    if missing:
        summary = ", ".join(f"{m['sku']} at {m['location']}" for m in missing)
        raise Unavailable(f"not enough stock for {summary}", missing=missing)

    now = utcnow()
    order_id = new_id()
    currency = currencies.pop()
    order_lines: list[OrderLineOut] = []
    rows: list[dict[str, Any]] = []
    vat_total = 0
    for n, line in enumerate(lines):
        price = current[line.sku]
        rid, place = taken[(line.sku, line.location_id)]
        amount = price.amount * line.qty
        vat_total += vat_included(amount, price.vat_rate)
        rows.append(
            {
                "order_id": order_id,
                "line": n,
                "sku": line.sku,
                "location_id": place.id,
                "quantity": line.qty,
                "unit_price": price.amount,
                "vat_rate": str(price.vat_rate.normalize()),
                "reservation_id": rid,
            }
        )
        order_lines.append(
            OrderLineOut(
                sku=line.sku,
                location=place.code,
                qty=line.qty,
                unit_price=price.amount,
                vat_rate=price.vat_rate.normalize(),
                line_total=amount,
            )
        )
    total = sum(line.line_total for line in order_lines)
    customer_id = carts.customer_of(session, cart)
    order = OrderOut(
        id=order_id,
        number=short_code(ORDER_NUMBER_LENGTH),
        status=OrderStatus.PLACED,
        channel=cart.channel,
        customer_id=customer_id,
        cart_id=cart.id,
        fulfilment=data.fulfilment,
        pickup_location=None if target is None else target.code,
        pickup_code=pickup_code() if data.fulfilment is Fulfilment.COLLECT else None,
        collect_by=None,
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
                to_status=OrderStatus.PLACED,
                by=by,
                channel=channel or cart.channel,
                reason=None,
                details={"cart": str(cart.id), "fulfilment": data.fulfilment.value},
                at=now,
            )
        ],
        created_at=now,
        updated_at=now,
    )
    if not orders.store_order(session, order, rows, None if target is None else target.id):
        # Only an order number drawn twice (1 in 10^15) can clash: the client retries.
        raise Conflict("could not draw a free order number; try again")
    cart.order_id = order_id
    session.flush()
    emit(
        session,
        OrderPlaced(
            order_id=str(order_id),
            number=order.number,
            channel=order.channel,
            customer_id=None if customer_id is None else str(customer_id),
            fulfilment=order.fulfilment.value,
            pickup_location=order.pickup_location,
            currency=currency,
            total=total,
            lines=[
                {"sku": x.sku, "location": x.location, "qty": x.qty, "unit_price": x.unit_price}
                for x in order_lines
            ],
        ),
    )
    return order
