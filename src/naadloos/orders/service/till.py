"""Till sales: facts from the store, possibly sent hours later by a till that was offline. A
receipt is one order, recorded once however often it is sent; its lines are sales in the stock
ledger even when they drive stock below zero (flagged for reconciliation there); an identifier
on the receipt (loyalty card, email, phone) links it to the customer."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.catalog.service import variants
from naadloos.channels import service as channels
from naadloos.customers.service import profiles
from naadloos.customers.service.profiles import PersonNotFound
from naadloos.inventory.schemas import MovementCreate, MovementKind
from naadloos.inventory.service import locations, movements
from naadloos.kit.errors import Conflict, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.money import known_currency, vat_included
from naadloos.kit.time import as_utc, utcnow
from naadloos.orders.events import OrderPlaced
from naadloos.orders.models import Order
from naadloos.orders.schemas import (
    Fulfilment,
    OrderChangeOut,
    OrderLineOut,
    OrderOut,
    OrderStatus,
    TillCustomer,
    TillSale,
)
from naadloos.orders.service import book
from naadloos.orders.service.checkout import ORDER_NUMBER_LENGTH
from naadloos.orders.service.codes import short_code

if TYPE_CHECKING:  # the type of what inventory's functions return; its table stays its own
    from naadloos.inventory.models import Location


def _store(session: Session, data: TillSale, key_channel: str | None) -> Location:
    """The store the sale happened in: named, or the one whose channel the till's key is."""
    if data.location is not None:
        return locations.get_location(session, data.location, field="location")
    if key_channel is not None:
        found = locations.of_channel(session, key_channel)
        if found is not None:
            return found
    raise ValidationFailed.field("location", "required (or use a key bound to a store's channel)")


def _channel(session: Session, store: Location, key_channel: str | None) -> str:
    channel = key_channel or store.channel
    if channel is None:
        raise ValidationFailed.field(
            "location", f"{store.code!r} has no sales channel: set one, or use a till's key"
        )
    if not channels.channel_exists(session, channel):
        channels.get_channel(session, channel, field="channel")  # raises the 404
    return channel


def _customer(session: Session, customer: TillCustomer | None) -> Any:
    """The person the first known identifier on the receipt belongs to (loyalty card, then
    email, then phone); None if the till knew nobody, or nobody known."""
    if customer is None:
        return None
    for kind in ("loyalty_card", "email", "phone"):
        value = getattr(customer, kind)
        if value is None:
            continue
        try:
            return profiles.find_by_identifier(session, f"{kind}:{value}").id
        except ValidationFailed as exc:
            raise ValidationFailed.field(f"customer.{kind}", exc.detail) from exc
        except PersonNotFound:
            continue
    return None


def _recorded(session: Session, channel: str, receipt_id: str) -> OrderOut | None:
    earlier = session.scalar(
        select(Order).where(Order.channel == channel, Order.reference == receipt_id)
    )
    if earlier is None:
        return None
    return book.order_out(session, earlier).model_copy(update={"replayed": True})


def record_sale(
    session: Session, data: TillSale, *, key_channel: str | None, by: str | None
) -> OrderOut:
    if not known_currency(data.currency):
        raise ValidationFailed.field("currency", f"unknown currency {data.currency!r}")
    store = _store(session, data, key_channel)
    channel = _channel(session, store, key_channel)
    earlier = _recorded(session, channel, data.receipt_id)
    if earlier is not None:
        return earlier
    skus = [line.sku for line in data.lines]
    unknown = set(skus) - variants.known_skus(session, skus)
    for i, line in enumerate(data.lines):
        if line.sku in unknown:
            raise ValidationFailed.field(f"lines.{i}.sku", f"no SKU {line.sku!r} in the catalog")

    now = utcnow()
    order_id = new_id()
    lines = [
        OrderLineOut(
            sku=line.sku,
            location=store.code,
            qty=line.qty,
            unit_price=line.unit_price,
            vat_rate=line.vat_rate,
            line_total=line.unit_price * line.qty,
        )
        for line in data.lines
    ]
    order = OrderOut(
        id=order_id,
        number=short_code(ORDER_NUMBER_LENGTH),
        status=OrderStatus.COMPLETED,
        channel=channel,
        customer_id=_customer(session, data.customer),
        cart_id=None,
        fulfilment=Fulfilment.IN_STORE,
        reference=data.receipt_id,
        pickup_location=None,
        collect_by=None,
        ship_to=None,
        contact={},
        currency=data.currency,
        total=sum(line.line_total for line in lines),
        vat_total=sum(vat_included(line.line_total, line.vat_rate) for line in lines),
        payments=[p.model_dump(exclude_none=True) for p in data.payments],
        lines=lines,
        history=[
            OrderChangeOut(
                seq=1,
                from_status=None,
                to_status=OrderStatus.COMPLETED,
                by=by,
                channel=channel,
                reason=None,
                details={"receipt": data.receipt_id, "sold_at": data.sold_at.isoformat()},
                at=now,
            )
        ],
        created_at=as_utc(data.sold_at),
        updated_at=now,
    )
    rows = [
        {
            "order_id": order_id,
            "line": n,
            "sku": line.sku,
            "location_id": store.id,
            "quantity": line.qty,
            "unit_price": line.unit_price,
            "vat_rate": str(line.vat_rate.normalize()),
            "reservation_id": None,
        }
        for n, line in enumerate(lines)
    ]
    if not book.store_order(session, order, rows, None):
        # The same receipt, sent twice at once: the other request recorded it.
        earlier = _recorded(session, channel, data.receipt_id)
        if earlier is None:  # pragma: no cover - the conflict was on the order number
            raise Conflict("could not draw a free order number; send the receipt again")
        return earlier
    sold: dict[str, int] = defaultdict(int)
    for line in data.lines:
        sold[line.sku] += line.qty
    for sku in sorted(sold):  # key order, as every stock change
        movements.record_movement(
            session,
            MovementCreate(
                kind=MovementKind.SALE,
                sku=sku,
                location=store.code,
                quantity=sold[sku],
                reference=data.receipt_id,
            ),
            channel=channel,
            by=by,
        )
    emit(
        session,
        OrderPlaced(
            order_id=str(order_id),
            number=order.number,
            channel=channel,
            customer_id=None if order.customer_id is None else str(order.customer_id),
            fulfilment=Fulfilment.IN_STORE.value,
            pickup_location=None,
            currency=order.currency,
            total=order.total,
            lines=[
                {"sku": x.sku, "location": x.location, "qty": x.qty, "unit_price": x.unit_price}
                for x in lines
            ],
        ),
    )
    return order
