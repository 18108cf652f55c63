"""What naadloos asks of a payment provider once an order has moved: capture when the goods
left, void when it was cancelled, refund when a return goes back to the original method.
Requested in the transaction that decides (`payments.request`: `PaymentActionRequested`),
carried out after commit by the outbox (`perform`, outside any transaction), the answer
recorded on the payment and, when declined, in the order's history for a person to follow."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from naadloos.kit.events import Envelope
from naadloos.kit.outbox import Handler
from naadloos.orders.models import Payment
from naadloos.orders.payment_schemas import PaymentStatus
from naadloos.orders.payments import Outcome, PaymentDeclined, Provider
from naadloos.orders.service import orders, payments


def _of_order(
    session: Session, order_id: uuid.UUID, statuses: frozenset[PaymentStatus]
) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.order_id == order_id, Payment.status.in_([s.value for s in statuses]))
            .order_by(Payment.created_at)
        )
    )


def capture_order(session: Session, order_id: uuid.UUID) -> None:
    """The goods left: capture what was authorised for them."""
    for payment in _of_order(session, order_id, frozenset({PaymentStatus.AUTHORISED})):
        payments.request(session, payment, "capture", payment.amount, key=f"capture-{payment.id}")


def void_order(session: Session, order_id: uuid.UUID) -> None:
    """The order is cancelled: release what is held, or stop what is under way."""
    for payment in _of_order(session, order_id, payments.VOIDABLE):
        payments.request(session, payment, "void", payment.amount, key=f"void-{payment.id}")


def refund_order(session: Session, order_id: uuid.UUID, amount: int, *, return_id: str) -> None:
    """A return refunded to the original method: back through the provider that took the
    money (a till's payment is refunded at the till). What one captured payment cannot carry
    goes to the next; what none can (not captured, or not yet) is left to a person, in the
    order's history."""
    left = amount
    paid = _of_order(
        session, order_id, frozenset({PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED})
    )
    for payment in paid:
        part = min(left, payment.captured - payment.refunded)
        if part > 0:
            payments.request(
                session, payment, "refund", part, key=f"refund-{return_id}-{payment.id}"
            )
            left -= part
    if left and paid:
        orders.note(
            session,
            order_id,
            by="naadloos",
            channel=None,
            reason=f"{left} of the refund was not captured online: check the payment and "
            "refund it by hand",
            details={"return": return_id},
        )


def perform(providers: Mapping[str, Provider], envelope: Envelope) -> Handler:
    """Outside any transaction: ask the provider; then record its answer. What may pass
    (`ProviderUnavailable`) propagates, and the outbox retries the event."""
    p = envelope.payload
    provider = providers.get(p["provider"])
    if provider is None:
        raise RuntimeError(f"payment provider {p['provider']!r} is not configured")
    action, reference, amount, key = p["action"], p["reference"], int(p["amount"]), p["key"]
    error: str | None = None
    outcome: Outcome | None = None
    try:
        if action == "capture":
            outcome = provider.capture(reference, amount, key=key)
        elif action == "void":
            outcome = provider.void(reference, key=key)
        elif action == "refund":
            outcome = provider.refund(reference, amount, key=key)
        else:
            raise ValueError(f"unknown payment action {action!r}")
    except PaymentDeclined as exc:
        error = exc.detail

    def record(session: Session, _: Envelope) -> None:
        _record(
            session,
            uuid.UUID(p["payment_id"]),
            action=action,
            amount=amount,
            outcome=outcome,
            error=error,
        )

    return record


def _record(
    session: Session,
    payment_id: uuid.UUID,
    *,
    action: str,
    amount: int,
    outcome: Outcome | None,
    error: str | None,
) -> None:
    payment = session.get_one(Payment, payment_id)
    by = f"provider:{payment.provider}"
    payments.record_event(
        session,
        payment,
        kind=action,
        outcome=outcome,
        amount=amount,
        details={"error": error} if error else {},
    )
    if error is not None:
        session.execute(
            update(payments.PAYMENTS)
            .where(payments.PAYMENTS.c.id == payment_id)
            .values(error=error[:500])
        )
        orders.note(
            session,
            payment.order_id,
            by=by,
            channel=None,
            reason=f"{action} declined: {error}",
            details={"payment": str(payment_id), "amount": amount},
        )
        return
    if action == "refund":
        payments.count_refunds(session, payment)
        orders.note(
            session,
            payment.order_id,
            by=by,
            channel=None,
            details={"payment": str(payment_id), "refunded": amount},
        )
    elif outcome is not None:
        payments.move(session, payment, outcome, amount if action == "capture" else None, by=by)
