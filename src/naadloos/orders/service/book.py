"""The order book: an order's rows written and read (the order, its lines, its history), for
the state machine (`orders`), checkout, the till, returns and payments."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from naadloos.inventory.service import locations
from naadloos.kit.db import table_of
from naadloos.kit.errors import NotFound
from naadloos.kit.pagination import PageParams, paginate
from naadloos.kit.time import utcnow
from naadloos.orders.models import Order, OrderChange, OrderLine
from naadloos.orders.schemas import (
    Fulfilment,
    OrderChangeOut,
    OrderLineOut,
    OrderOut,
    OrderStatus,
)
from naadloos.orders.service import order_rows

CHANGES = table_of(OrderChange)
LINES = table_of(OrderLine)


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "Order not found"


def get_order(session: Session, order_id: uuid.UUID) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise OrderNotFound(f"no order {order_id}", field="id")
    return order


def hold_order(session: Session, order_id: uuid.UUID) -> Order:
    """The order, its row held for this transaction (whoever else changes it waits)."""
    order = get_order(session, order_id)
    session.execute(
        update(Order).where(Order.id == order_id).values(updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    session.refresh(order)
    return order


def record_change(
    session: Session,
    order_id: uuid.UUID,
    was: OrderStatus | None,
    to: OrderStatus,
    *,
    by: str | None,
    channel: str | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime,
) -> None:
    """Append to the order's history. Callers hold the order's row (a claim or its insert), so
    the next number is theirs."""
    last = session.scalar(
        select(func.coalesce(func.max(OrderChange.seq), 0)).where(OrderChange.order_id == order_id)
    )
    session.execute(
        insert(CHANGES),
        {
            "order_id": order_id,
            "seq": int(last or 0) + 1,
            "from_status": None if was is None else was.value,
            "to_status": to.value,
            "by": by,
            "channel": channel,
            "reason": reason,
            "details": details or {},
            "at": at,
        },
    )


def lines_of(session: Session, order_id: uuid.UUID) -> list[OrderLine]:
    return list(
        session.scalars(
            select(OrderLine)
            .where(OrderLine.order_id == order_id)
            .order_by(OrderLine.sku, OrderLine.location_id)
        )
    )


def list_orders(
    session: Session,
    page: PageParams,
    *,
    customer_ids: list[uuid.UUID] | None = None,
    status: OrderStatus | None = None,
    channel: str | None = None,
) -> tuple[list[Order], str | None]:
    query = select(Order)
    if customer_ids is not None:
        query = query.where(Order.person_id.in_(customer_ids))
    if status is not None:
        query = query.where(Order.status == status.value)
    if channel is not None:
        query = query.where(Order.channel == channel)
    rows, cursor = paginate(session, query, Order.id, page)
    return list(rows), cursor


def allocations_of(session: Session, order_id: uuid.UUID) -> list[uuid.UUID]:
    """The reservations that keep the order's units, in key order (a till's sale has none)."""
    return [line.reservation_id for line in lines_of(session, order_id) if line.reservation_id]


def order_out(session: Session, order: Order, *, with_pickup_code: bool = False) -> OrderOut:
    lines = lines_of(session, order.id)
    ids = [line.location_id for line in lines]
    if order.pickup_location_id is not None:
        ids.append(order.pickup_location_id)
    codes = locations.codes_of(session, ids)
    history = session.scalars(
        select(OrderChange).where(OrderChange.order_id == order.id).order_by(OrderChange.seq)
    )
    return OrderOut(
        id=order.id,
        number=order.number,
        status=OrderStatus(order.status),
        channel=order.channel,
        customer_id=order.person_id,
        cart_id=order.cart_id,
        fulfilment=Fulfilment(order.fulfilment),
        reference=order.reference,
        pickup_location=(
            None if order.pickup_location_id is None else codes[order.pickup_location_id]
        ),
        pickup_code=order.pickup_code if with_pickup_code else None,
        collect_by=order.collect_by,
        pay_by=order.pay_by,
        ship_to=order.ship_to,
        contact=order.contact,
        currency=order.currency,
        total=order.total,
        vat_total=order.vat_total,
        payments=order.payments,
        lines=[
            OrderLineOut(
                sku=line.sku,
                location=codes[line.location_id],
                qty=line.quantity,
                unit_price=line.unit_price,
                vat_rate=Decimal(line.vat_rate),
                line_total=line.unit_price * line.quantity,
            )
            for line in lines
        ],
        history=[
            OrderChangeOut(
                seq=c.seq,
                from_status=None if c.from_status is None else OrderStatus(c.from_status),
                to_status=OrderStatus(c.to_status),
                by=c.by,
                channel=c.channel,
                reason=c.reason,
                details=c.details,
                at=c.at,
            )
            for c in history
        ],
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def store_order(
    session: Session,
    order: OrderOut,
    rows: list[dict[str, Any]],
    pickup_location_id: int | None,
) -> bool:
    """Write a new order as `order` describes it: its row, its lines (`rows`) and its first
    history row. False, writing nothing, when its (channel, reference) was recorded before."""
    values = {
        "id": order.id,
        "number": order.number,
        "cart_id": order.cart_id,
        "channel": order.channel,
        "person_id": order.customer_id,
        "status": order.status.value,
        "fulfilment": order.fulfilment.value,
        "reference": order.reference,
        "pickup_location_id": pickup_location_id,
        "pickup_code": order.pickup_code,
        "collect_by": order.collect_by,
        "pay_by": order.pay_by,
        "ship_to": order.ship_to,
        "contact": order.contact,
        "currency": order.currency,
        "total": order.total,
        "vat_total": order.vat_total,
        "payments": order.payments,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
    }
    [first] = order.history
    return order_rows.write_order(
        session,
        values,
        rows,
        {
            "order_id": order.id,
            "seq": first.seq,
            "from_status": None,
            "to_status": first.to_status.value,
            "by": first.by,
            "channel": first.channel,
            "reason": None,
            "details": first.details,
            "at": first.at,
        },
    )
