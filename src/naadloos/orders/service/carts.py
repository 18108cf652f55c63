"""Carts that follow the customer: the same cart on app, web and in the store. Every line holds
its units with a reservation of the inventory (a TTL); changing a line swaps its hold inside the
request's transaction, so a refusal leaves the line and its hold as they were. Reading a cart
(its lines, the cart as the API shows it) is `cart_view`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from naadloos.channels import service as channels
from naadloos.customers.service import profiles
from naadloos.inventory.schemas import ReservationOut, ReservationStatus
from naadloos.inventory.service import locations, reservation_changes, reservations
from naadloos.kit.db import insert_or_nothing, table_of
from naadloos.kit.errors import Conflict, NotFound, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.prepared import Prepared
from naadloos.kit.rows import adopt
from naadloos.kit.time import utcnow
from naadloos.orders.events import CartUpdated
from naadloos.orders.models import Cart, CartLine
from naadloos.orders.schemas import (
    CartCreate,
    CartStatus,
    CartUpdate,
)
from naadloos.orders.service import lines as line_rows
from naadloos.orders.service.cart_view import Filled, Line, filled, lines_of
from naadloos.orders.service.codes import normalised, short_code
from naadloos.orders.service.people import ids_of, person_of
from naadloos.orders.service.routing import Router, StockPriorityDistance

CODE_LENGTH = 8
OPEN_CARTS_LISTED = 20


@dataclass(frozen=True)
class Policy:
    """What the retailer set (`NAADLOOS_CART_HOLD_SECONDS`, `NAADLOOS_COLLECT_WITHIN_HOURS`,
    `NAADLOOS_RESERVE_WITHIN_HOURS`, `NAADLOOS_PAY_WITHIN_MINUTES`)."""

    hold_seconds: int = 1800
    collect_within_hours: int = 72
    reserve_within_hours: int = 24
    router: Router = field(default_factory=StockPriorityDistance)
    pay_within_minutes: int = 30


class CartNotFound(NotFound):
    code = "cart_not_found"
    title = "Cart not found"


class CartClosed(Conflict):
    code = "cart_closed"
    title = "The cart was checked out"


def acting_channel(session: Session, asked: str | None, key_channel: str | None) -> str:
    """The channel a cart or order action happens in: the key's own channel (a till's key),
    else the one asked for; it must exist."""
    if key_channel is not None and asked is not None and asked != key_channel:
        raise ValidationFailed.field("channel", f"this key acts for channel {key_channel!r}")
    channel = asked or key_channel
    if channel is None:
        raise ValidationFailed.field("channel", "required (or use a key bound to a channel)")
    if not channels.channel_exists(session, channel):
        channels.get_channel(session, channel, field="channel")  # raises the 404
    return channel


def create_cart(
    session: Session, data: CartCreate, *, key_channel: str | None, by: str | None
) -> Filled:
    channel = acting_channel(session, data.channel, key_channel)
    person_id = person_of(session, data.customer) if data.customer else None
    location_id = (
        locations.resolve(session, [(data.location, "location")])[data.location].id
        if data.location
        else None
    )
    now = utcnow()
    cart_id = new_id()
    for _ in range(5):  # a code already taken: draw another (1 in 10^12 with 40 bits)
        values = {
            "id": cart_id,
            "code": short_code(CODE_LENGTH),
            "channel": channel,
            "person_id": person_id,
            "anonymous_id": data.anonymous_id,
            "location_id": location_id,
            "status": CartStatus.OPEN.value,
            "order_id": None,
            "created_at": now,
            "updated_at": now,
            "created_by": by,
        }
        if insert_or_nothing(session, Cart, values, Cart.id) is not None:
            break
    else:  # pragma: no cover - five collisions in a row
        raise Conflict("could not draw a free cart code; try again")
    return _announce(session, adopt(session, Cart, values), lines=[])  # the row as written


def get_cart(session: Session, cart_id: uuid.UUID) -> Cart:
    cart = session.get(Cart, cart_id)
    if cart is None:
        raise CartNotFound(f"no cart {cart_id}", field="id")
    return cart


def cart_by_code(session: Session, code: str) -> Cart:
    cart = session.scalar(select(Cart).where(Cart.code == normalised(code)))
    if cart is None:
        raise CartNotFound(f"no cart with code {code!r}", field="code")
    return cart


def open_carts_of(session: Session, customer: str) -> list[Cart]:
    """The customer's open carts, newest first: those opened under any profile that is now
    this person, and those opened anonymously on a device they later identified on."""
    ids = ids_of(session, customer)
    devices = profiles.values_of(session, ids[0], "anonymous_id")
    mine: ColumnElement[bool] = Cart.person_id.in_(ids)
    if devices:
        mine = or_(mine, Cart.anonymous_id.in_(devices))
    return list(
        session.scalars(
            select(Cart)
            .where(mine, Cart.status == CartStatus.OPEN.value)
            .order_by(Cart.updated_at.desc())
            .limit(OPEN_CARTS_LISTED)
        )
    )


_CART_COLUMNS = tuple(c.name for c in table_of(Cart).columns)  # the attributes' names too


def _claim(status: bool) -> Prepared:
    values: dict[str, Any] = {"updated_at": bindparam("now")}
    if status:
        values["status"] = bindparam("to")
    carts = table_of(Cart)
    location_code = locations.code_of(carts.c.location_id)
    return Prepared(
        update(carts)
        .where(carts.c.id == bindparam("cart"), carts.c.status == CartStatus.OPEN.value)
        .values(**values)
        .returning(*(carts.c[name] for name in _CART_COLUMNS), location_code)
    )


_CLAIM, _CLAIM_AND_CLOSE = _claim(status=False), _claim(status=True)


def claim_open(session: Session, cart_id: uuid.UUID, *, to: CartStatus | None = None) -> Cart:
    """Take the cart's row for this transaction, if it is still open (concurrent changes of
    one cart, from the app and the till at once, wait for each other): one UPDATE that returns
    the cart as it now is, and its location's code."""
    session.flush()
    params: dict[str, Any] = {"cart": cart_id, "now": utcnow()}
    if to is not None:
        params["to"] = to.value
    claimed = (_CLAIM if to is None else _CLAIM_AND_CLOSE).first(session, params)
    if claimed is None:
        closed = get_cart(session, cart_id)
        raise CartClosed(f"cart {cart_id} is {closed.status}", cart_status=closed.status)
    *row, location_code = claimed
    cart = adopt(session, Cart, dict(zip(_CART_COLUMNS, row, strict=True)))
    if cart.location_id is not None:
        locations.remember_codes(session, [locations.Place(cart.location_id, location_code)])
    return cart


def link_order(cart: Cart, order_id: uuid.UUID) -> None:
    """Show on the cart object the order its row now names (`book.store_order` wrote it)."""
    set_committed_value(cart, "order_id", order_id)


def update_cart(session: Session, cart_id: uuid.UUID, data: CartUpdate) -> Filled:
    cart = claim_open(session, cart_id)
    if data.customer is not None:
        cart.person_id = person_of(session, data.customer)
    if data.location is not None:
        cart.location_id = locations.resolve(session, [(data.location, "location")])[
            data.location
        ].id
    session.flush()
    return _announce(session, cart)


def _line_place(session: Session, cart: Cart, location: str | None) -> locations.Place:
    if location is not None:
        return locations.resolve(session, [(location, "location")])[location]
    if cart.location_id is None:
        raise ValidationFailed.field(
            "location", "the cart has no location: name where to hold the stock"
        )
    code = locations.codes_of(session, [cart.location_id])[cart.location_id]
    return locations.Place(cart.location_id, code)


def release_hold(session: Session, line: Line) -> None:
    """Give a line's units back, if its hold still held them when the line was read (a lapsed
    hold's units are the sweeper's to give back)."""
    if line.hold is ReservationStatus.HELD:
        reservation_changes.release(session, line.reservation_id)


def hold(
    session: Session,
    cart: Cart,
    sku: str,
    place: locations.Place,
    qty: int,
    *,
    policy: Policy,
    by: str | None,
) -> ReservationOut:
    """Hold `qty` of `sku` at `place` for the cart; 409 `insufficient_stock` if it cannot."""
    return reservations.reserve_at(
        session,
        place,
        sku,
        qty,
        channel=cart.channel,
        ttl_seconds=policy.hold_seconds,
        reference=f"cart:{cart.id}",
        by=by,
    )


def set_line(
    session: Session,
    cart_id: uuid.UUID,
    sku: str,
    qty: int,
    *,
    location: str | None,
    add: bool,
    policy: Policy,
    by: str | None,
) -> Filled:
    """Add `qty` to a line (`add`) or set it to `qty` (0 removes the line); the whole line is
    held again for a fresh TTL. The cart's lines are read once, before the change: the line
    as it was, and the others for CartUpdated and the answer."""
    cart = claim_open(session, cart_id)
    place = _line_place(session, cart, location)
    lines = lines_of(session, cart.id)
    line = next((x for x in lines if x.sku == sku and x.location_id == place.id), None)
    others = [x for x in lines if x is not line]
    wanted = qty + (line.qty if line is not None and add else 0)
    if line is not None:
        release_hold(session, line)
    if wanted == 0:
        if line is not None:
            line_rows.drop_line(session, cart.id, sku, place.id)
        return _announce(session, cart, lines=others)
    held = hold(session, cart, sku, place, wanted, policy=policy, by=by)
    now = Line(sku, place.id, place.code, wanted, held.id, ReservationStatus.HELD, held.expires_at)
    view = _announce(
        session, cart, lines=sorted([*others, now], key=lambda x: (x.sku, x.location_id))
    )
    # After CartUpdated: on PostgreSQL the line's statement writes it too (kit.events).
    line_rows.put_line(
        session,
        cart.id,
        sku,
        place.id,
        qty=wanted,
        reservation_id=held.id,
        new=line is None,
        at=utcnow(),
    )
    return view


def remove_line(session: Session, cart_id: uuid.UUID, sku: str, *, location: str | None) -> Filled:
    cart = claim_open(session, cart_id)
    lines = [line for line in lines_of(session, cart.id) if line.sku == sku]
    if location is not None:
        lines = [line for line in lines if line.location == location]
    if not lines:
        where = "" if location is None else f" at {location!r}"
        raise NotFound(f"the cart has no line for {sku!r}{where}", field="sku")
    for line in lines:
        release_hold(session, line)
    session.execute(
        delete(CartLine).where(
            CartLine.cart_id == cart.id,
            CartLine.sku == sku,
            CartLine.location_id.in_([line.location_id for line in lines]),
        )
    )
    return _announce(session, cart)


def _announce(session: Session, cart: Cart, *, lines: list[Line] | None = None) -> Filled:
    """Emit CartUpdated with the cart's lines as they are now (read, unless the caller knows
    them: a new cart has none); returns them."""
    view = filled(session, cart) if lines is None else Filled(cart, lines)
    emit(
        session,
        CartUpdated(
            cart_id=str(cart.id),
            code=cart.code,
            channel=cart.channel,
            customer_id=None if cart.person_id is None else str(cart.person_id),
            anonymous_id=cart.anonymous_id,
            lines=[
                {"sku": line.sku, "location": line.location, "qty": line.qty} for line in view.lines
            ],
        ),
    )
    return view
