"""Reading a cart: its lines with their locations and the state of their holds, in key order,
and the cart as the API shows it (today's prices, its customer after merges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from naadloos.catalog.service import prices
from naadloos.customers.service import profiles
from naadloos.customers.service.profiles import PersonNotFound
from naadloos.inventory.schemas import ReservationStatus
from naadloos.inventory.service import locations, reservations
from naadloos.kit.errors import ValidationFailed
from naadloos.kit.money import DEFAULT_CURRENCY
from naadloos.kit.prepared import Prepared
from naadloos.kit.time import utcnow
from naadloos.orders.models import Cart, CartLine
from naadloos.orders.schemas import CartLineOut, CartOut, CartStatus


class Line(NamedTuple):
    """A cart line as read with its location's code and its hold's state."""

    sku: str
    location_id: int
    location: str
    qty: int
    reservation_id: uuid.UUID
    hold: ReservationStatus  # expired once a held hold's time is up
    expires_at: datetime


class Filled(NamedTuple):
    """A cart and its lines, read once in a request."""

    cart: Cart
    lines: list[Line]


_LINES = Prepared(
    select(
        CartLine.sku,
        CartLine.location_id,
        locations.code_of(CartLine.location_id),
        CartLine.quantity,
        CartLine.reservation_id,
        *reservations.hold_columns(CartLine.reservation_id),
    )
    .where(CartLine.cart_id == bindparam("cart_id"))
    .order_by(CartLine.sku, CartLine.location_id)
)  # run without SQLAlchemy's execution machinery (kit.prepared), after a flush


def lines_of(session: Session, cart_id: uuid.UUID) -> list[Line]:
    """In key order (sku, location id): the order stock rows are locked in."""
    session.flush()  # the request's ORM changes (the cart's), as an execute would
    now = utcnow()
    return [
        Line(sku, location_id, code, qty, rid, reservations.state_of(status, until, now), until)
        for sku, location_id, code, qty, rid, status, until in _LINES.rows(
            session, {"cart_id": cart_id}
        )
    ]


def filled(session: Session, cart: Cart) -> Filled:
    return Filled(cart, lines_of(session, cart.id))


def customer_of(session: Session, cart: Cart) -> uuid.UUID | None:
    """The person the cart belongs to now (after merges), or whose device opened it."""
    if cart.person_id is not None:
        return profiles.get_person(session, cart.person_id).id
    if cart.anonymous_id is not None:
        try:
            return profiles.find_by_identifier(session, f"anonymous_id:{cart.anonymous_id}").id
        except (PersonNotFound, ValidationFailed):
            return None
    return None


def cart_out(session: Session, view: Filled) -> CartOut:
    cart, lines = view
    current = prices.prices_by_sku(
        session, sorted({line.sku for line in lines}), channel=cart.channel
    )
    out_lines: list[CartLineOut] = []
    currency = DEFAULT_CURRENCY
    total = 0
    for line in lines:
        price = current.get(line.sku)
        held_until = line.expires_at if line.hold is ReservationStatus.HELD else None
        if price is not None:
            currency = price.currency
            total += price.amount * line.qty
        out_lines.append(
            CartLineOut(
                sku=line.sku,
                location=line.location,
                qty=line.qty,
                unit_price=None if price is None else price.amount,
                vat_rate=None if price is None else price.vat_rate,
                line_total=None if price is None else price.amount * line.qty,
                held_until=held_until,
            )
        )
    location = None
    if cart.location_id is not None:
        location = locations.codes_of(session, [cart.location_id])[cart.location_id]
    return CartOut(
        id=cart.id,
        code=cart.code,
        channel=cart.channel,
        status=CartStatus(cart.status),
        customer_id=customer_of(session, cart),
        anonymous_id=cart.anonymous_id,
        location=location,
        lines=out_lines,
        currency=currency,
        total=total,
        order_id=cart.order_id,
        created_at=cart.created_at,
        updated_at=cart.updated_at,
    )
