"""Online payments of orders (docs/adr/0010-online-payments.md).

A payment is an attempt to pay an order through a provider. `payment_start.start` records
it, asks the provider, and records the answer: three steps, the provider called between two
commits so no lock waits on it. The provider's signed webhooks (`apply`) move it on:
authorised places the order; refused lets the customer try again until `pay_by`. Capture at
fulfilment, void at cancellation and refunds are requested in the transaction that decides them
(`request`: `PaymentActionRequested`) and carried out after commit by the outbox
(`payment_actions.perform`), retried until the provider answers.

    new ──> pending ──> authorised ──> captured (refunded counts up to captured)
     │         │            └──> cancelled (voided)
     └──> failed └──> refused ──> authorised (the customer tried again) | cancelled
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from naadloos.kit.db import insert_or_nothing, table_of
from naadloos.kit.errors import NotFound, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.time import utcnow
from naadloos.orders.events import PaymentActionRequested, PaymentAuthorised
from naadloos.orders.models import Payment, PaymentEvent
from naadloos.orders.payment_schemas import PaymentEventOut, PaymentOut, PaymentStatus
from naadloos.orders.payments import (
    Notification,
    Outcome,
    Provider,
)
from naadloos.orders.service import book, orders
from naadloos.orders.service.orders import OrderClosed

log = logging.getLogger(__name__)

PAYMENTS = table_of(Payment)
EVENTS = table_of(PaymentEvent)

# Which statuses a provider's outcome may move a payment from, and to what.
MOVES: dict[Outcome, tuple[frozenset[PaymentStatus], PaymentStatus]] = {
    Outcome.PENDING: (frozenset({PaymentStatus.NEW}), PaymentStatus.PENDING),
    Outcome.AUTHORISED: (
        frozenset({PaymentStatus.NEW, PaymentStatus.PENDING, PaymentStatus.REFUSED}),
        PaymentStatus.AUTHORISED,
    ),
    Outcome.REFUSED: (
        frozenset({PaymentStatus.NEW, PaymentStatus.PENDING}),
        PaymentStatus.REFUSED,
    ),
    Outcome.CAPTURED: (
        frozenset({PaymentStatus.NEW, PaymentStatus.PENDING, PaymentStatus.AUTHORISED}),
        PaymentStatus.CAPTURED,
    ),
    Outcome.CANCELLED: (
        frozenset(
            {
                PaymentStatus.NEW,
                PaymentStatus.PENDING,
                PaymentStatus.AUTHORISED,
                PaymentStatus.REFUSED,
            }
        ),
        PaymentStatus.CANCELLED,
    ),
}
VOIDABLE = frozenset({PaymentStatus.PENDING, PaymentStatus.AUTHORISED, PaymentStatus.REFUSED})


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "Payment not found"


def provider_of(providers: Mapping[str, Provider], name: str, *, field: str) -> Provider:
    provider = providers.get(name)
    if provider is None:
        configured = ", ".join(sorted(providers)) or "none (set NAADLOOS_PAYMENT_PROVIDERS)"
        raise ValidationFailed.field(
            field, f"no payment provider {name!r}; configured: {configured}"
        )
    return provider


# -- what the provider reports -------------------------------------------------------------


def apply(session: Session, provider: Provider, notifications: list[Notification]) -> int:
    """Apply a webhook's events, each once (by the provider's event id); returns how many
    were new. Events of payments naadloos does not know are kept and otherwise ignored."""
    applied = 0
    for n in notifications:
        payment = _find(session, provider.name, n)
        recorded = insert_or_nothing(
            session,
            PaymentEvent,
            {
                "id": new_id(),
                "payment_id": None if payment is None else payment.id,
                "provider": provider.name,
                "provider_event_id": n.event_id,
                "kind": f"webhook:{n.kind}",
                "outcome": n.outcome.value,
                "amount": n.amount,
                "details": {"reference": n.reference},
                "at": utcnow(),
            },
            PaymentEvent.id,
        )
        if recorded is None:
            continue  # delivered before
        applied += 1
        if payment is None:
            log.warning(
                "webhook for an unknown payment",
                extra={"provider": provider.name, "reference": n.reference},
            )
            continue
        if payment.reference is None:  # the webhook came before the start's answer
            session.execute(
                update(PAYMENTS).where(PAYMENTS.c.id == payment.id).values(reference=n.reference)
            )
            session.refresh(payment)
        if n.outcome is Outcome.REFUNDED:
            count_refunds(session, payment)
            continue
        move(session, payment, n.outcome, n.amount, by=f"provider:{provider.name}")
    return applied


def _find(session: Session, provider: str, n: Notification) -> Payment | None:
    if n.payment_id is not None:
        found = session.get(Payment, n.payment_id)
        if found is not None and found.provider == provider:
            return found
    return session.scalar(
        select(Payment).where(Payment.provider == provider, Payment.reference == n.reference)
    )


def move(
    session: Session, payment: Payment, outcome: Outcome, amount: int | None, *, by: str
) -> None:
    """Move the payment as the provider says, if it may; an authorisation places the order."""
    move = MOVES.get(outcome)
    if move is None:
        return
    allowed, to = move
    values: dict[str, Any] = {"status": to.value, "updated_at": utcnow()}
    if to is PaymentStatus.CAPTURED:
        values["captured"] = amount if amount is not None else payment.amount
    moved = session.execute(
        update(PAYMENTS)
        .where(PAYMENTS.c.id == payment.id, PAYMENTS.c.status.in_([s.value for s in allowed]))
        .values(**values)
        .returning(PAYMENTS.c.id)
    ).first()
    session.refresh(payment)
    if moved is None:
        return
    details = {"payment": str(payment.id), "provider": payment.provider, "outcome": outcome.value}
    if to is PaymentStatus.AUTHORISED:
        _authorised(session, payment, amount, by=by)
    elif to in {PaymentStatus.REFUSED, PaymentStatus.CAPTURED, PaymentStatus.CANCELLED}:
        orders.note(session, payment.order_id, by=by, channel=None, details=details)


def _authorised(session: Session, payment: Payment, amount: int | None, *, by: str) -> None:
    """The amount is held: the order is placed. An authorisation the order cannot use (a
    second payment, an order cancelled meanwhile, too little) is voided."""
    emit(
        session,
        PaymentAuthorised(
            payment_id=str(payment.id),
            order_id=str(payment.order_id),
            provider=payment.provider,
            amount=payment.amount if amount is None else amount,
            currency=payment.currency,
        ),
    )
    details = {"payment": str(payment.id), "provider": payment.provider, "amount": amount}
    if amount is not None and amount < payment.amount:
        _void(session, payment, why=f"authorised {amount}, less than {payment.amount}", by=by)
        return
    try:
        orders.place(session, payment.order_id, by=by, details=details)
    except OrderClosed as exc:
        _void(session, payment, why=exc.detail, by=by)


def _void(session: Session, payment: Payment, *, why: str, by: str) -> None:
    orders.note(
        session,
        payment.order_id,
        by=by,
        channel=None,
        reason=f"payment voided: {why}",
        details={"payment": str(payment.id)},
    )
    request(session, payment, "void", payment.amount, key=f"void-{payment.id}")


# -- what naadloos asks of the provider (carried out by `payment_actions`) ----------------


def request(session: Session, payment: Payment, action: str, amount: int, *, key: str) -> None:
    """Ask the provider, after commit, to `capture`, `void` or `refund` (`perform`)."""
    if payment.reference is None:
        return  # never reached the provider: nothing to ask of it
    emit(
        session,
        PaymentActionRequested(
            payment_id=str(payment.id),
            order_id=str(payment.order_id),
            provider=payment.provider,
            reference=payment.reference,
            action=action,
            amount=amount,
            key=key,
        ),
    )


def count_refunds(session: Session, payment: Payment) -> None:
    """`refunded` is the larger of the refunds naadloos made and the total the provider last
    reported (which includes ours, and any made in the provider's dashboard): a refund is
    never counted twice, whichever news comes first."""
    session.flush()
    ours = session.scalar(
        select(func.coalesce(func.sum(PaymentEvent.amount), 0)).where(
            PaymentEvent.payment_id == payment.id,
            PaymentEvent.kind == "refund",
            PaymentEvent.outcome == Outcome.REFUNDED.value,
        )
    )
    theirs = session.scalar(
        select(func.coalesce(func.max(PaymentEvent.amount), 0)).where(
            PaymentEvent.payment_id == payment.id,
            PaymentEvent.kind.like("webhook:%"),
            PaymentEvent.outcome == Outcome.REFUNDED.value,
        )
    )
    payment.refunded = min(
        max(int(ours or 0), int(theirs or 0)), payment.captured or payment.amount
    )
    payment.updated_at = utcnow()
    session.flush()


def record_event(
    session: Session,
    payment: Payment,
    *,
    kind: str,
    outcome: Outcome | None = None,
    amount: int | None = None,
    details: dict[str, Any],
) -> None:
    session.execute(
        insert(EVENTS),
        {
            "id": new_id(),
            "payment_id": payment.id,
            "provider": payment.provider,
            "provider_event_id": None,
            "kind": kind,
            "outcome": None if outcome is None else outcome.value,
            "amount": amount,
            "details": {k: v for k, v in details.items() if v is not None},
            "at": utcnow(),
        },
    )


# -- reading ------------------------------------------------------------------------------


def payments_of(session: Session, order_id: uuid.UUID) -> list[PaymentOut]:
    book.get_order(session, order_id)
    rows = session.scalars(
        select(Payment).where(Payment.order_id == order_id).order_by(Payment.created_at)
    )
    return [payment_out(session, p) for p in rows]


def get_payment(session: Session, payment_id: uuid.UUID) -> Payment:
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise PaymentNotFound(f"no payment {payment_id}", field="id")
    return payment


def payment_out(session: Session, payment: Payment) -> PaymentOut:
    events = session.scalars(
        select(PaymentEvent)
        .where(PaymentEvent.payment_id == payment.id)
        .order_by(PaymentEvent.at, PaymentEvent.id)
    )
    return PaymentOut(
        id=payment.id,
        order_id=payment.order_id,
        provider=payment.provider,
        method=payment.method,
        status=PaymentStatus(payment.status),
        amount=payment.amount,
        currency=payment.currency,
        captured=payment.captured,
        refunded=payment.refunded,
        reference=payment.reference,
        action=payment.action,
        error=payment.error,
        events=[
            PaymentEventOut(
                kind=e.kind, outcome=e.outcome, amount=e.amount, details=e.details, at=e.at
            )
            for e in events
        ],
        created_at=payment.created_at,
        updated_at=payment.updated_at,
    )
