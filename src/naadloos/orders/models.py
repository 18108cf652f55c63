from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from naadloos.kit.db import Base, UTCDateTime


class Cart(Base):
    """One cart, the same on app, web and in the store: found by its id, its short `code` (a QR
    at the till) or its customer. It belongs to a person, or to an anonymous id until they
    identify. A cart has no prices of its own: it shows the one current price."""

    __tablename__ = "carts"
    __table_args__ = (
        Index("ix_carts_person_status", "person_id", "status"),
        Index("ix_carts_anonymous_status", "anonymous_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    channel: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    anonymous_id: Mapped[str | None] = mapped_column(String(200))
    # Where lines hold stock unless a line says otherwise (the shop's store, the web warehouse).
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(20))  # open | checked_out
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))


class CartLine(Base):
    """A SKU in a cart at a location, with the stock hold (a reservation) that keeps it."""

    __tablename__ = "cart_lines"

    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    """An order from any channel. Its status changes only through `orders.service.orders`,
    each change a row of `order_changes` (who, through which channel, when, why)."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_person_created", "person_id", "created_at"),
        Index("ix_orders_status_collect_by", "status", "collect_by"),
        Index("ix_orders_status_pay_by", "status", "pay_by"),
        # A till's receipt is one order, however often the till sends it.
        Index(
            "uq_orders_channel_reference",
            "channel",
            "reference",
            unique=True,
            sqlite_where=text("reference IS NOT NULL"),
            postgresql_where=text("reference IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    cart_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("carts.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(30))
    fulfilment: Mapped[str] = mapped_column(String(20))  # ship | collect | in_store
    reference: Mapped[str | None] = mapped_column(String(120))  # a till's receipt id
    pickup_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    pickup_code: Mapped[str | None] = mapped_column(String(12))
    collect_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Paid online: cancelled, units back on sale, unless a payment is authorised by then.
    pay_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ship_to: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(Integer)  # minor units, VAT included
    vat_total: Mapped[int] = mapped_column(Integer)
    payments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # as the till reported them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderLine(Base):
    """What was bought, at the price of the moment of checkout, and the allocation that
    keeps its units (an allocated reservation of the inventory)."""

    __tablename__ = "order_lines"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(Integer)
    vat_rate: Mapped[str] = mapped_column(String(8))  # a decimal percentage, e.g. "21"
    # None for a till's sale: the goods left at once, the ledger has the sale.
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reservations.id"))


class OrderChange(Base):
    """The order's history, append-only: every status change, who made it, through which
    channel, when and why."""

    __tablename__ = "order_changes"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    by: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Return(Base):
    """Goods handed back for an order, at any store or by post, and the refund for them."""

    __tablename__ = "returns"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))  # where it came in
    by_post: Mapped[bool] = mapped_column(default=False)
    channel: Mapped[str | None] = mapped_column(String(100))
    refund_method: Mapped[str] = mapped_column(String(20))  # original | store_credit
    refund_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))


class ReturnLine(Base):
    __tablename__ = "return_lines"

    return_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("returns.id"), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    disposition: Mapped[str] = mapped_column(String(20))  # restock | damaged | inspect
    unit_refund: Mapped[int] = mapped_column(Integer)


class StoreCredit(Base):
    """Store credit, append-only: a refund adds, a purchase paid with it takes (negative). The
    balance of a customer is the sum of their rows."""

    __tablename__ = "store_credit"
    __table_args__ = (Index("ix_store_credit_person", "person_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    return_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("returns.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Payment(Base):
    """One attempt to pay an order online through a provider: authorised at checkout, captured
    at fulfilment, voided when the order is cancelled, refunded on a return. Its id is the
    reference the provider keeps and sends back in webhooks."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_order", "order_id"),
        Index(
            "uq_payments_provider_reference",
            "provider",
            "reference",
            unique=True,
            sqlite_where=text("reference IS NOT NULL"),
            postgresql_where=text("reference IS NOT NULL"),
        ),
        # A client's retry of the same start (its Idempotency-Key) is the same attempt.
        Index(
            "uq_payments_order_key",
            "order_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    provider: Mapped[str] = mapped_column(String(50))
    method: Mapped[str | None] = mapped_column(String(50))
    # new | pending | authorised | captured | refused | cancelled | failed
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    captured: Mapped[int] = mapped_column(Integer, default=0)
    refunded: Mapped[int] = mapped_column(Integer, default=0)
    reference: Mapped[str | None] = mapped_column(String(200))  # the provider's id
    action: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what the customer does next
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentEvent(Base):
    """A payment's history, append-only: what the provider reported (a webhook event, recorded
    once by its id) and what naadloos asked of it (capture, void, refund) with the answer."""

    __tablename__ = "payment_events"
    __table_args__ = (
        Index("ix_payment_events_payment", "payment_id"),
        Index(
            "uq_payment_events_provider_event",
            "provider",
            "provider_event_id",
            unique=True,
            sqlite_where=text("provider_event_id IS NOT NULL"),
            postgresql_where=text("provider_event_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id"))
    provider: Mapped[str] = mapped_column(String(50))
    provider_event_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))  # e.g. webhook:authorised, capture
    outcome: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
