"""A cart's line rows, written and read by key in prepared statements (kit.prepared): a line
is never an ORM object, so a request that changes one pays no unit-of-work flush for it. On
PostgreSQL the line's write takes the transaction's pending events along (kit.events)."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, update
from sqlalchemy.orm import Session

from naadloos.kit import events
from naadloos.kit.db import table_of
from naadloos.kit.prepared import Prepared
from naadloos.orders.models import CartLine

LINES = table_of(CartLine)
_KEY = and_(
    LINES.c.cart_id == bindparam("cart_id"),
    LINES.c.sku == bindparam("sku"),
    LINES.c.location_id == bindparam("location_id"),
)
_DROP = Prepared(delete(LINES).where(_KEY))


@lru_cache(maxsize=2 * (events.MOST_CARRIED + 1))
def _write(new: bool, carried: int) -> Prepared:
    """A new line's INSERT or a line's UPDATE, with `carried` pending events."""
    values: dict[str, Any] = {"quantity": bindparam("qty"), "reservation_id": bindparam("rid")}
    if new:
        key = {c: bindparam(c, type_=LINES.c[c].type) for c in ("cart_id", "sku", "location_id")}
        added = {"added_at": bindparam("at", type_=LINES.c.added_at.type)}
        statement: Any = insert(LINES).values({**key, **values, **added})
    else:
        statement = update(LINES).where(_KEY).values(values)
    if carried:
        statement = statement.add_cte(events.outbox_cte(carried))
    return Prepared(statement)


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
    pending = events.take_pending(session)
    params = {"cart_id": cart_id, "sku": sku, "location_id": location_id, "qty": qty}
    params.update(rid=reservation_id, at=at, **pending)
    _write(new, events.carried(pending)).run(session, params)


def drop_line(session: Session, cart_id: uuid.UUID, sku: str, location_id: int) -> None:
    _DROP.run(session, {"cart_id": cart_id, "sku": sku, "location_id": location_id})
