"""What the order book does when events arrive (delivered at least once, after commit, by the
outbox dispatcher; every handler is idempotent):
- order events go on the customer's timeline, whichever channel the order came through;
- an erased customer's orders and carts keep their bookkeeping (what was sold, when, where) but
  lose everything that points at the person;
- online payments are captured, voided and refunded as their orders go
  (`service.payment_actions`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from naadloos.customers.events import CustomerErased
from naadloos.customers.identifiers import IdentifierType, InvalidIdentifier, parse_ref
from naadloos.customers.service import privacy, tracking
from naadloos.kit.events import Envelope, Event
from naadloos.kit.outbox import EventBus, Handler
from naadloos.orders.events import (
    OrderCancelled,
    OrderCollected,
    OrderPlaced,
    OrderReadyForPickup,
    OrderShipped,
    PaymentActionRequested,
    RefundIssued,
    ReturnReceived,
)
from naadloos.orders.models import Cart, Order, StoreCredit
from naadloos.orders.payments import Provider
from naadloos.orders.schemas import RefundMethod
from naadloos.orders.service import payment_actions

# Event -> the name of the timeline entry (Segment's ecommerce spec names where there is one).
TIMELINE: dict[type[Event], str] = {
    OrderPlaced: "Order Completed",
    OrderReadyForPickup: "Order Ready For Pickup",
    OrderCollected: "Order Collected",
    OrderShipped: "Order Shipped",
    OrderCancelled: "Order Cancelled",
    ReturnReceived: "Order Returned",
    RefundIssued: "Order Refunded",
}
_KEPT = (
    "order_id",
    "number",
    "fulfilment",
    "pickup_location",
    "currency",
    "total",
    "lines",
    "return_id",
    "location",
    "method",
    "amount",
)


def _on_timeline(name: str) -> Handler:
    def handle(session: Session, envelope: Envelope) -> None:
        payload = envelope.payload
        customer = payload.get("customer_id")
        if not customer:
            return
        tracking.record_activity(
            session,
            uuid.UUID(customer),
            name=name,
            channel=payload.get("channel"),
            properties={k: payload[k] for k in _KEPT if k in payload},
            message_id=f"naadloos:{envelope.event_id}",
            at=envelope.occurred_at,
        )

    return handle


def forget_customer(session: Session, envelope: Envelope) -> None:
    erased = CustomerErased.model_validate(envelope.payload)
    ids = [uuid.UUID(erased.person_id), *(uuid.UUID(m) for m in erased.merged_ids)]
    session.execute(
        update(Order)
        .where(Order.person_id.in_(ids))
        .values(person_id=None, contact={}, ship_to=None, updated_at=envelope.occurred_at),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        update(StoreCredit)
        .where(StoreCredit.person_id.in_(ids))
        .values(person_id=None, note="customer erased"),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        update(Cart)
        .where(Cart.person_id.in_(ids))
        .values(person_id=None, anonymous_id=None, updated_at=envelope.occurred_at),
        execution_options={"synchronize_session": False},
    )
    forget_devices(session, envelope)


def forget_devices(session: Session, envelope: Envelope) -> None:
    """Carts started on a device of the erased person and never linked to them: the device id
    is gone from the identity graph, but the erasure left its digest among the suppressions.
    Erasures are rare, so every anonymous cart's device is looked up (by digest, in chunks)."""
    by_digest: dict[bytes, list[uuid.UUID]] = {}
    anonymous = session.execute(
        select(Cart.id, Cart.anonymous_id).where(
            Cart.person_id.is_(None), Cart.anonymous_id.is_not(None)
        )
    )
    for cart_id, device in anonymous:
        try:
            ref = parse_ref(IdentifierType.ANONYMOUS_ID.value, device)
        except InvalidIdentifier:
            continue  # never an identifier of anyone
        by_digest.setdefault(privacy.identifier_digest(ref), []).append(cart_id)
    erased = privacy.suppressed(session, list(by_digest))
    carts = [cart_id for d in erased for cart_id in by_digest[d]]
    if carts:
        session.execute(
            update(Cart)
            .where(Cart.id.in_(carts))
            .values(anonymous_id=None, updated_at=envelope.occurred_at),
            execution_options={"synchronize_session": False},
        )


def capture(session: Session, envelope: Envelope) -> None:
    payment_actions.capture_order(session, uuid.UUID(envelope.payload["order_id"]))


def void(session: Session, envelope: Envelope) -> None:
    payment_actions.void_order(session, uuid.UUID(envelope.payload["order_id"]))


def refund(session: Session, envelope: Envelope) -> None:
    issued = RefundIssued.model_validate(envelope.payload)
    if issued.method == RefundMethod.ORIGINAL.value and issued.amount > 0:
        payment_actions.refund_order(
            session, uuid.UUID(issued.order_id), issued.amount, return_id=issued.return_id
        )


def subscribe(bus: EventBus, providers: Mapping[str, Provider]) -> None:
    for event, name in TIMELINE.items():
        bus.subscribe(event, "orders.timeline", _on_timeline(name))
    bus.subscribe(CustomerErased, "orders.forget-customer", forget_customer)
    # Online payments: captured when the goods leave, voided when the order is cancelled,
    # refunded to the original method; the provider is called after commit (`perform`).
    bus.subscribe(OrderShipped, "orders.payments.capture", capture)
    bus.subscribe(OrderCollected, "orders.payments.capture", capture)
    bus.subscribe(OrderCancelled, "orders.payments.void", void)
    bus.subscribe(RefundIssued, "orders.payments.refund", refund)
    bus.subscribe_calling_out(
        PaymentActionRequested,
        "orders.payments.perform",
        functools.partial(payment_actions.perform, providers),
    )
