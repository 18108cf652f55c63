"""Starting an online payment (docs/adr/0010-online-payments.md): record it, ask the provider,
record the answer, in three steps, the provider called between two commits so that no lock waits
on it. What follows (the provider's webhooks, capture, void, refunds) is `payments`'."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from naadloos.kit.db import Database, insert_or_nothing
from naadloos.kit.errors import ValidationFailed
from naadloos.kit.ids import new_id
from naadloos.kit.time import utcnow
from naadloos.orders.models import Order, Payment
from naadloos.orders.payment_schemas import PaymentOut, PaymentStart, PaymentStatus
from naadloos.orders.payments import PaymentRequest, Provider, ProviderError, Started
from naadloos.orders.schemas import OrderStatus
from naadloos.orders.service import book
from naadloos.orders.service.orders import OrderClosed
from naadloos.orders.service.payments import (
    PAYMENTS,
    move,
    payment_out,
    provider_of,
    record_event,
)


def start(
    db: Database,
    providers: Mapping[str, Provider],
    order_id: uuid.UUID,
    data: PaymentStart,
    *,
    key: str | None,
    by: str | None,
) -> tuple[PaymentOut, bool]:
    """Start paying an order awaiting payment; returns the payment (with what the customer
    does next) and whether it was started before with the same `key`."""
    provider = provider_of(providers, data.provider, field="provider")
    with db.unit_of_work() as session:
        payment, request = _open(session, order_id, data, key=key)
        if payment.status != PaymentStatus.NEW.value:  # the same start, done before
            return payment_out(session, payment), True
    try:
        started = provider.start(request)
    except ProviderError as exc:
        with db.unit_of_work() as session:
            _failed(session, payment.id, exc, by=by)
        raise
    with db.unit_of_work() as session:
        return payment_out(session, _started(session, payment.id, started, by=by)), False


def _open(
    session: Session, order_id: uuid.UUID, data: PaymentStart, *, key: str | None
) -> tuple[Payment, PaymentRequest]:
    order = book.get_order(session, order_id)
    if key is not None:
        again = session.scalar(
            select(Payment).where(Payment.order_id == order_id, Payment.idempotency_key == key)
        )
        if again is not None:
            if (again.provider, again.method) != (data.provider, data.method):
                raise ValidationFailed.field(
                    "Idempotency-Key", "this key started another payment of this order"
                )
            return again, _request(order, again, data)
    if order.status != OrderStatus.AWAITING_PAYMENT.value:
        raise OrderClosed(
            f"order {order.number} is {order.status}: it awaits no payment",
            order_status=order.status,
        )
    if order.pay_by is not None and order.pay_by <= utcnow():
        raise OrderClosed(
            f"order {order.number} was to be paid by {order.pay_by.isoformat()}",
            order_status=order.status,
        )
    now = utcnow()
    values = {
        "id": new_id(),
        "order_id": order.id,
        "provider": data.provider,
        "method": data.method,
        "status": PaymentStatus.NEW.value,
        "amount": order.total,
        "currency": order.currency,
        "captured": 0,
        "refunded": 0,
        "reference": None,
        "action": None,
        "idempotency_key": key,
        "error": None,
        "created_at": now,
        "updated_at": now,
    }
    if insert_or_nothing(session, Payment, values, Payment.id) is None:
        # The same key, started at this very moment by a concurrent retry: that one is it.
        again = session.scalars(
            select(Payment).where(Payment.order_id == order_id, Payment.idempotency_key == key)
        ).one()
        return again, _request(order, again, data)
    payment = session.get_one(Payment, values["id"])
    return payment, _request(order, payment, data)


def _request(order: Order, payment: Payment, data: PaymentStart) -> PaymentRequest:
    return PaymentRequest(
        payment_id=payment.id,
        order_id=order.id,
        order_number=order.number,
        amount=payment.amount,
        currency=payment.currency,
        method=payment.method,
        return_url=data.return_url,
        email=(order.contact or {}).get("email"),
    )


def _failed(session: Session, payment_id: uuid.UUID, exc: ProviderError, *, by: str | None) -> None:
    payment = session.get_one(Payment, payment_id)
    session.execute(
        update(PAYMENTS)
        .where(PAYMENTS.c.id == payment_id, PAYMENTS.c.status == PaymentStatus.NEW.value)
        .values(status=PaymentStatus.FAILED.value, error=exc.detail[:500], updated_at=utcnow())
    )
    record_event(session, payment, kind="start", details={"error": exc.detail, "by": by})


def _started(
    session: Session, payment_id: uuid.UUID, started: Started, *, by: str | None
) -> Payment:
    payment = session.get_one(Payment, payment_id)
    # A webhook may have come first: the reference is set, the status only moves forwards.
    session.execute(
        update(PAYMENTS)
        .where(PAYMENTS.c.id == payment_id)
        .values(reference=started.reference, action=started.action, updated_at=utcnow())
    )
    record_event(
        session,
        payment,
        kind="start",
        outcome=started.outcome,
        amount=payment.amount,
        details={"by": by},
    )
    move(session, payment, started.outcome, payment.amount, by=f"provider:{payment.provider}")
    session.refresh(payment)
    return payment
