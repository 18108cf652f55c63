"""Returns anywhere: any order that was handed over (collected, shipped, sold at a till) can be
returned at any location that takes returns, or by post, from any channel. The goods go into
the receiving location's ledger (back on sale, or kept apart as damaged or for inspection) and
the refund goes to the way the order was paid or to store credit, in the same transaction.

The order's row is taken first, so two returns of one order at once cannot return more than
was bought."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from naadloos.inventory.schemas import LocationCapability, MovementCreate, MovementKind
from naadloos.inventory.service import locations, movements
from naadloos.kit.db import table_of
from naadloos.kit.errors import NotFound, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.time import utcnow
from naadloos.orders.events import RefundIssued, ReturnReceived
from naadloos.orders.models import OrderLine, Return, ReturnLine, StoreCredit
from naadloos.orders.schemas import (
    Disposition,
    OrderStatus,
    RefundMethod,
    ReturnIn,
    ReturnLineOut,
    ReturnOut,
    StoreCreditOut,
)
from naadloos.orders.service import book, orders, people
from naadloos.orders.service.orders import OrderClosed

HANDED_OVER = (OrderStatus.COLLECTED, OrderStatus.SHIPPED, OrderStatus.COMPLETED)


def _returnable(session: Session, order_id: uuid.UUID) -> tuple[dict[str, int], dict[str, int]]:
    """Per SKU: units that can still be returned, and the price each was bought at."""
    bought: dict[str, int] = defaultdict(int)
    price: dict[str, int] = {}
    for sku, qty, unit in session.execute(
        select(OrderLine.sku, OrderLine.quantity, OrderLine.unit_price).where(
            OrderLine.order_id == order_id
        )
    ):
        bought[sku] += qty
        price[sku] = unit
    returned = session.execute(
        select(ReturnLine.sku, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order_id)
        .group_by(ReturnLine.sku)
    )
    for sku, qty in returned:
        bought[sku] -= int(qty)
    return dict(bought), price


def receive_return(
    session: Session,
    order_id: uuid.UUID,
    data: ReturnIn,
    *,
    by: str | None,
    channel: str | None,
) -> ReturnOut:
    order = book.hold_order(session, order_id)
    status = OrderStatus(order.status)
    if status not in HANDED_OVER:
        raise OrderClosed(
            f"order {order.number} is {status}: it was not handed over; cancel it instead",
            order_status=status,
        )
    try:
        location = locations.get_location(session, data.location, field="location")
    except NotFound as exc:
        raise ValidationFailed.field("location", exc.detail) from exc
    if LocationCapability.RETURNS.value not in location.capabilities:
        raise ValidationFailed.field("location", f"{location.code!r} does not take returns")
    if data.refund is RefundMethod.STORE_CREDIT and order.person_id is None:
        raise ValidationFailed.field("refund", "store credit needs a known customer")
    left, price = _returnable(session, order.id)
    asked: dict[str, int] = defaultdict(int)
    for i, line in enumerate(data.lines):
        if line.sku not in left:
            raise ValidationFailed.field(f"lines.{i}.sku", f"{line.sku!r} is not on the order")
        asked[line.sku] += line.qty
        if asked[line.sku] > left[line.sku]:
            raise ValidationFailed.field(
                f"lines.{i}.qty",
                f"{left[line.sku]} of {line.sku!r} can still be returned on this order",
            )

    now = utcnow()
    return_id = new_id()
    out_lines = [
        ReturnLineOut(
            sku=line.sku, qty=line.qty, disposition=line.disposition, unit_refund=price[line.sku]
        )
        for line in data.lines
    ]
    amount = sum(x.unit_refund * x.qty for x in out_lines)
    session.execute(
        insert(table_of(Return)),
        {
            "id": return_id,
            "order_id": order.id,
            "location_id": location.id,
            "by_post": data.by_post,
            "channel": channel,
            "refund_method": data.refund.value,
            "refund_amount": amount,
            "currency": order.currency,
            "reason": data.reason,
            "created_at": now,
            "created_by": by,
        },
    )
    session.execute(
        insert(table_of(ReturnLine)),
        [
            {
                "return_id": return_id,
                "line": n,
                "sku": x.sku,
                "quantity": x.qty,
                "disposition": x.disposition.value,
                "unit_refund": x.unit_refund,
            }
            for n, x in enumerate(out_lines)
        ],
    )
    _into_stock(session, str(return_id), location.code, out_lines, channel=channel, by=by)
    if data.refund is RefundMethod.STORE_CREDIT:
        session.execute(
            insert(table_of(StoreCredit)),
            {
                "id": new_id(),
                "person_id": order.person_id,
                "amount": amount,
                "currency": order.currency,
                "return_id": return_id,
                "note": f"return of order {order.number}",
                "created_at": now,
            },
        )
    orders.note(
        session,
        order.id,
        by=by,
        channel=channel,
        reason=data.reason,
        details={"return": str(return_id), "refund": amount, "method": data.refund.value},
    )
    customer = None if order.person_id is None else str(order.person_id)
    emit(
        session,
        ReturnReceived(
            return_id=str(return_id),
            order_id=str(order.id),
            number=order.number,
            customer_id=customer,
            location=location.code,
            by_post=data.by_post,
            lines=[
                {"sku": x.sku, "qty": x.qty, "disposition": x.disposition.value} for x in out_lines
            ],
        ),
    )
    emit(
        session,
        RefundIssued(
            return_id=str(return_id),
            order_id=str(order.id),
            customer_id=customer,
            method=data.refund.value,
            amount=amount,
            currency=order.currency,
        ),
    )
    return ReturnOut(
        id=return_id,
        order_id=order.id,
        location=location.code,
        by_post=data.by_post,
        channel=channel,
        lines=out_lines,
        refund_method=data.refund,
        refund_amount=amount,
        currency=order.currency,
        reason=data.reason,
        created_at=now,
    )


def _into_stock(
    session: Session,
    reference: str,
    location: str,
    lines: list[ReturnLineOut],
    *,
    channel: str | None,
    by: str | None,
) -> None:
    """Returned units are on hand again at the receiving location; damaged ones, and those
    waiting for inspection, move on to damaged at once. Key order (sku)."""
    back: dict[str, int] = defaultdict(int)
    apart: dict[str, int] = defaultdict(int)
    for x in lines:
        back[x.sku] += x.qty
        if x.disposition is not Disposition.RESTOCK:
            apart[x.sku] += x.qty
    for sku in sorted(back):
        movements.record_movement(
            session,
            MovementCreate(
                kind=MovementKind.RETURN,
                sku=sku,
                location=location,
                quantity=back[sku],
                reference=reference,
            ),
            channel=channel,
            by=by,
        )
        if apart.get(sku):
            movements.record_movement(
                session,
                MovementCreate(
                    kind=MovementKind.DAMAGE,
                    sku=sku,
                    location=location,
                    quantity=apart[sku],
                    reference=reference,
                    note="returned: damaged or to inspect",
                ),
                channel=channel,
                by=by,
            )


def returns_of(session: Session, order_id: uuid.UUID) -> list[ReturnOut]:
    book.get_order(session, order_id)  # 404 for an unknown order
    found = list(
        session.scalars(select(Return).where(Return.order_id == order_id).order_by(Return.id))
    )
    codes = locations.codes_of(session, [r.location_id for r in found])
    lines: dict[uuid.UUID, list[ReturnLineOut]] = defaultdict(list)
    for row in session.scalars(
        select(ReturnLine)
        .where(ReturnLine.return_id.in_([r.id for r in found]))
        .order_by(ReturnLine.return_id, ReturnLine.line)
    ):
        lines[row.return_id].append(
            ReturnLineOut(
                sku=row.sku,
                qty=row.quantity,
                disposition=Disposition(row.disposition),
                unit_refund=row.unit_refund,
            )
        )
    return [
        ReturnOut(
            id=r.id,
            order_id=r.order_id,
            location=codes[r.location_id],
            by_post=r.by_post,
            channel=r.channel,
            lines=lines[r.id],
            refund_method=RefundMethod(r.refund_method),
            refund_amount=r.refund_amount,
            currency=r.currency,
            reason=r.reason,
            created_at=r.created_at,
        )
        for r in found
    ]


def store_credit(session: Session, customer: str) -> StoreCreditOut:
    """The customer's store credit (every profile merged into them included)."""
    ids = people.ids_of(session, customer)
    rows = list(
        session.scalars(
            select(StoreCredit).where(StoreCredit.person_id.in_(ids)).order_by(StoreCredit.id)
        )
    )
    return StoreCreditOut(
        customer_id=ids[0],
        balance=sum(r.amount for r in rows),
        currency=rows[0].currency if rows else "EUR",
        entries=[
            {
                "amount": r.amount,
                "currency": r.currency,
                "return_id": None if r.return_id is None else str(r.return_id),
                "note": r.note,
                "at": r.created_at.isoformat(),
            }
            for r in rows
        ],
    )
