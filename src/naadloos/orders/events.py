from __future__ import annotations

from naadloos.kit.events import Event


class CartUpdated(Event):
    """A cart's lines or customer changed (on any channel)."""

    cart_id: str
    code: str
    channel: str
    customer_id: str | None
    anonymous_id: str | None
    lines: list[dict[str, str | int]]  # sku, location, qty


class OrderPlaced(Event):
    order_id: str
    number: str
    channel: str
    customer_id: str | None
    fulfilment: str
    pickup_location: str | None
    currency: str
    total: int
    lines: list[dict[str, str | int]]  # sku, location, qty, unit_price


class OrderReadyForPickup(Event):
    """The customer can collect: notify them (the code is their proof at the desk)."""

    order_id: str
    number: str
    customer_id: str | None
    location: str
    pickup_code: str
    collect_by: str


class OrderCollected(Event):
    order_id: str
    number: str
    customer_id: str | None
    location: str


class OrderShipped(Event):
    order_id: str
    number: str
    customer_id: str | None
    carrier: str | None
    tracking: str | None


class OrderCancelled(Event):
    """The order will not be fulfilled; its units are back in stock."""

    order_id: str
    number: str
    customer_id: str | None
    reason: str | None


class ReturnReceived(Event):
    """Goods came back for an order (at a store or by post), with what happens to them."""

    return_id: str
    order_id: str
    number: str
    customer_id: str | None
    location: str
    by_post: bool
    lines: list[dict[str, str | int]]  # sku, qty, disposition


class RefundIssued(Event):
    return_id: str
    order_id: str
    customer_id: str | None
    method: str  # original (to how the order was paid) | store_credit
    amount: int
    currency: str


class PaymentAuthorised(Event):
    """A payment provider holds the amount of an order paid online."""

    payment_id: str
    order_id: str
    provider: str
    amount: int
    currency: str


class PaymentActionRequested(Event):
    """naadloos asks a payment provider to capture, void or refund: done after commit by the
    outbox (`orders.subscribers`), retried until the provider answers, with `key` as the
    provider's idempotency key so a retry never charges or refunds twice."""

    payment_id: str
    order_id: str
    provider: str
    reference: str
    action: str  # capture | void | refund
    amount: int
    key: str
