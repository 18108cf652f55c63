"""A cart's line rows, written and read by key in prepared statements (kit.prepared): a line
is never an ORM object, so a request that changes one pays no unit-of-work flush for it."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.orm import Session

from naadloos.kit.db import table_of
from naadloos.kit.prepared import Prepared, insert_all
from naadloos.orders.models import CartLine

LINES = table_of(CartLine)
_KEY = and_(
    LINES.c.cart_id == bindparam("cart_id"),
    LINES.c.sku == bindparam("sku"),
    LINES.c.location_id == bindparam("location_id"),
)
_READ = Prepared(select(LINES.c.quantity, LINES.c.reservation_id).where(_KEY))
_CHANGE = Prepared(
    update(LINES).where(_KEY).values(quantity=bindparam("qty"), reservation_id=bindparam("rid"))
)
_DROP = Prepared(delete(LINES).where(_KEY))


def line_at(
    session: Session, cart_id: uuid.UUID, sku: str, location_id: int
) -> tuple[int, uuid.UUID] | None:
    """(quantity, reservation id) of the cart's line for `sku` at the location, if it has one."""
    key = {"cart_id": cart_id, "sku": sku, "location_id": location_id}
    row = _READ.first(session, key)
    return None if row is None else (row[0], row[1])


def put_line(
    session: Session,
    cart_id: uuid.UUID,
    sku: str,
    location_id: int,
    *,
    qty: int,
    reservation_id: uuid.UUID,
    new: bool,
    at: datetime,
) -> None:
    """Write the line: a `new` one, or the quantity and hold of the one there is."""
    key = {"cart_id": cart_id, "sku": sku, "location_id": location_id}
    if new:
        insert_all(session, LINES, [{**key, "quantity": qty, "reservation_id": reservation_id,
                                     "added_at": at}])  # fmt: skip
    else:
        _CHANGE.run(session, {**key, "qty": qty, "rid": reservation_id})


def drop_line(session: Session, cart_id: uuid.UUID, sku: str, location_id: int) -> None:
    _DROP.run(session, {"cart_id": cart_id, "sku": sku, "location_id": location_id})
