"""The state machine of orders (their rows are read and written by `book`). Every change
claims the order's status with one conditional UPDATE (of a collection at the desk and the
sweeper cancelling an uncollected order, exactly one wins) and appends a row to the order's
history: from, to, who, through which channel, why.

    awaiting_payment ──> placed                        (paid online: when authorised)
            └──> cancelled (by anyone, or not authorised in time)

    placed ──> ready_for_pickup ──> collected          (collect)
       │              │
       ├──> shipped   └──> cancelled (by anyone, or not collected in time)
       └──> cancelled

    ready_for_pickup ──> collected, paid in full       (reserve and pay in store)
              └──> cancelled
    completed                                          (a till's sale: done at once)

Returns (`returns`) add to the history without changing the status.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from naadloos.inventory.service import locations, reservation_changes
from naadloos.kit.db import table_of
from naadloos.kit.errors import Conflict, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.time import utcnow
from naadloos.orders.events import (
    OrderCancelled,
    OrderCollected,
    OrderPlaced,
    OrderReadyForPickup,
    OrderShipped,
)
from naadloos.orders.models import Order
from naadloos.orders.schemas import (
    Fulfilment,
    OrderOut,
    OrderStatus,
)
from naadloos.orders.service import book

ORDERS = table_of(Order)

# Which status may follow which, per fulfilment.
NEXT: dict[Fulfilment, dict[OrderStatus, tuple[OrderStatus, ...]]] = {
    Fulfilment.COLLECT: {
        OrderStatus.AWAITING_PAYMENT: (OrderStatus.PLACED, OrderStatus.CANCELLED),
        OrderStatus.PLACED: (OrderStatus.READY_FOR_PICKUP, OrderStatus.CANCELLED),
        OrderStatus.READY_FOR_PICKUP: (OrderStatus.COLLECTED, OrderStatus.CANCELLED),
    },
    Fulfilment.SHIP: {
        OrderStatus.AWAITING_PAYMENT: (OrderStatus.PLACED, OrderStatus.CANCELLED),
        OrderStatus.PLACED: (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
    },
    Fulfilment.RESERVE: {  # waiting at the desk from the start, paid when collected
        OrderStatus.READY_FOR_PICKUP: (OrderStatus.COLLECTED, OrderStatus.CANCELLED),
    },
    Fulfilment.IN_STORE: {},  # done at the till; returns come later
}


class OrderClosed(Conflict):
    code = "order_status"
    title = "The order cannot make this change now"


class WrongPickupCode(Conflict):
    code = "wrong_pickup_code"
    title = "The pickup code does not match"


def note(
    session: Session,
    order_id: uuid.UUID,
    *,
    by: str | None,
    channel: str | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Order:
    """Something happened to the order that does not change its status (a return, a payment
    refused or captured): a row of its history all the same."""
    order = book.hold_order(session, order_id)
    status = OrderStatus(order.status)
    book.record_change(
        session,
        order.id,
        status,
        status,
        by=by,
        channel=channel,
        reason=reason,
        details=details,
        at=utcnow(),
    )
    return order


def _claim(
    session: Session, order_id: uuid.UUID, to: OrderStatus, now: datetime, **values: Any
) -> tuple[Order, OrderStatus]:
    """Move the order to `to` if its fulfilment allows it from its status now; returns the
    order and the status it had."""
    order = book.get_order(session, order_id)
    fulfilment = Fulfilment(order.fulfilment)
    allowed_from = [was for was, nexts in NEXT[fulfilment].items() if to in nexts]
    for was in allowed_from:
        claimed = session.execute(
            update(ORDERS)
            .where(ORDERS.c.id == order_id, ORDERS.c.status == was.value)
            .values(status=to.value, updated_at=now, **values)
            .returning(ORDERS.c.id)
        ).first()
        if claimed is not None:
            session.refresh(order)
            return order, was
    session.refresh(order)
    raise OrderClosed(
        f"order {order.number} is {order.status}; a {fulfilment} order cannot become {to} now",
        order_status=order.status,
    )


def place(
    session: Session,
    order_id: uuid.UUID,
    *,
    by: str | None,
    details: dict[str, Any] | None = None,
) -> Order:
    """An order awaiting payment is paid (the provider authorised it): it is placed now, and
    the store and the customer hear of it (OrderPlaced)."""
    now = utcnow()
    order, was = _claim(session, order_id, OrderStatus.PLACED, now)
    book.record_change(
        session, order.id, was, OrderStatus.PLACED, by=by, channel=None, details=details, at=now
    )
    announce_placed(session, book.order_out(session, order))
    return order


def announce_placed(session: Session, order: OrderOut) -> None:
    emit(
        session,
        OrderPlaced(
            order_id=str(order.id),
            number=order.number,
            channel=order.channel,
            customer_id=None if order.customer_id is None else str(order.customer_id),
            fulfilment=order.fulfilment.value,
            pickup_location=order.pickup_location,
            currency=order.currency,
            total=order.total,
            lines=[
                {"sku": x.sku, "location": x.location, "qty": x.qty, "unit_price": x.unit_price}
                for x in order.lines
            ],
        ),
    )


def mark_ready(
    session: Session,
    order_id: uuid.UUID,
    *,
    collect_within_hours: int,
    by: str | None,
    channel: str | None,
) -> Order:
    """The goods are at the desk: the customer is told (OrderReadyForPickup) and has until
    `collect_by` to come."""
    now = utcnow()
    collect_by = now + timedelta(hours=collect_within_hours)
    order, was = _claim(session, order_id, OrderStatus.READY_FOR_PICKUP, now, collect_by=collect_by)
    book.record_change(
        session,
        order.id,
        was,
        OrderStatus.READY_FOR_PICKUP,
        by=by,
        channel=channel,
        at=now,
        details={"collect_by": collect_by.isoformat()},
    )
    announce_ready(session, order)
    return order


def announce_ready(session: Session, order: Order) -> None:
    """Tell the customer (OrderReadyForPickup, with their code) that the order waits at the
    desk until `collect_by`: when a store marks it ready, or at once when it was reserved to
    pay in store."""
    emit(
        session,
        OrderReadyForPickup(
            order_id=str(order.id),
            number=order.number,
            customer_id=_customer(order),
            location=_pickup_location(session, order),
            pickup_code=order.pickup_code or "",
            collect_by="" if order.collect_by is None else order.collect_by.isoformat(),
        ),
    )


def _leave(
    session: Session,
    order_id: uuid.UUID,
    to: OrderStatus,
    *,
    by: str | None,
    channel: str | None,
    details: dict[str, Any] | None = None,
    **values: Any,
) -> Order:
    """The goods left (collected or shipped): each line's allocation becomes a sale in the
    stock ledger of the location it left from."""
    now = utcnow()
    order, was = _claim(session, order_id, to, now, **values)
    for rid in book.allocations_of(session, order.id):
        reservation_changes.fulfil(session, rid, by=by, at=now)
    book.record_change(session, order.id, was, to, by=by, channel=channel, at=now, details=details)
    return order


def collect(
    session: Session,
    order_id: uuid.UUID,
    code: str,
    *,
    payments: list[dict[str, Any]] | None = None,
    by: str | None,
    channel: str | None,
) -> Order:
    """The customer shows their code at the desk and takes the goods; an order reserved to
    pay in store is paid here, in full."""
    order = book.get_order(session, order_id)
    if not hmac.compare_digest((order.pickup_code or "").encode(), code.encode()):
        raise WrongPickupCode(f"that is not the pickup code of order {order.number}")
    taken = payments or []
    paid = sum(int(p["amount"]) for p in taken)
    if order.fulfilment == Fulfilment.RESERVE.value and paid != order.total:
        raise ValidationFailed.field(
            "payments",
            f"order {order.number} is paid in store: payments must add up to {order.total} "
            f"{order.currency}, not {paid}",
        )
    details = {"paid": paid} if taken else None
    order = _leave(
        session,
        order_id,
        OrderStatus.COLLECTED,
        by=by,
        channel=channel,
        details=details,
        payments=[*order.payments, *taken],
    )
    emit(
        session,
        OrderCollected(
            order_id=str(order.id),
            number=order.number,
            customer_id=_customer(order),
            location=_pickup_location(session, order),
        ),
    )
    return order


def ship(
    session: Session,
    order_id: uuid.UUID,
    *,
    carrier: str | None,
    tracking: str | None,
    by: str | None,
    channel: str | None,
) -> Order:
    parcel = {k: v for k, v in (("carrier", carrier), ("tracking", tracking)) if v}
    order = _leave(session, order_id, OrderStatus.SHIPPED, by=by, channel=channel, details=parcel)
    emit(
        session,
        OrderShipped(
            order_id=str(order.id),
            number=order.number,
            customer_id=_customer(order),
            carrier=carrier,
            tracking=tracking,
        ),
    )
    return order


def cancel(
    session: Session,
    order_id: uuid.UUID,
    *,
    reason: str | None,
    by: str | None,
    channel: str | None,
) -> Order:
    """Cancel an order that has not left: its allocated units are back on sale."""
    now = utcnow()
    order, was = _claim(session, order_id, OrderStatus.CANCELLED, now)
    for rid in book.allocations_of(session, order.id):
        reservation_changes.release(session, rid, at=now)
    book.record_change(
        session,
        order.id,
        was,
        OrderStatus.CANCELLED,
        by=by,
        channel=channel,
        reason=reason,
        at=now,
    )
    emit(
        session,
        OrderCancelled(
            order_id=str(order.id), number=order.number, customer_id=_customer(order), reason=reason
        ),
    )
    return order


def cancel_uncollected(session: Session, batch: int = 100) -> int:
    """The periodic job: click & collect orders past their `collect_by` are cancelled and
    their units go back on sale. Returns how many."""
    return _cancel_overdue(
        session, OrderStatus.READY_FOR_PICKUP, Order.collect_by, "not collected in time", batch
    )


def cancel_unpaid(session: Session, batch: int = 100) -> int:
    """The periodic job: orders paid online that no provider authorised by their `pay_by`
    are cancelled, their units back on sale (and a payment still open is voided)."""
    return _cancel_overdue(
        session, OrderStatus.AWAITING_PAYMENT, Order.pay_by, "not paid in time", batch
    )


def _cancel_overdue(
    session: Session, status: OrderStatus, deadline: Any, reason: str, batch: int
) -> int:
    now = utcnow()
    due = list(
        session.scalars(
            select(Order.id)
            .where(Order.status == status.value, deadline < now)
            .order_by(deadline)
            .limit(batch)
        )
    )
    done = 0
    for order_id in due:
        try:
            cancel(session, order_id, reason=reason, by="naadloos", channel=None)
        except OrderClosed:
            continue  # collected, paid (or cancelled) meanwhile
        done += 1
    return done


def _customer(order: Order) -> str | None:
    return None if order.person_id is None else str(order.person_id)


def _pickup_location(session: Session, order: Order) -> str:
    if order.pickup_location_id is None:
        raise ValidationFailed.field("id", f"order {order.number} is not collected")
    return locations.codes_of(session, [order.pickup_location_id])[order.pickup_location_id]
