from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from naadloos.inventory.schemas import MAX_QUANTITY, Address, Sku

Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320, pattern=r"^.+:.+$")
]
ChannelCode = Annotated[str, StringConstraints(min_length=1, max_length=100)]
LocationRef = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class CartStatus(StrEnum):
    OPEN = "open"
    CHECKED_OUT = "checked_out"


class CartCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ChannelCode | None = Field(
        default=None, description="Where the cart starts; a key bound to a channel sets it"
    )
    customer: Identifier | None = Field(
        default=None,
        description="An identifier of a known customer, e.g. `email:jan@example.nl`",
        examples=["loyalty_card:NL-000123"],
    )
    anonymous_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="The device or browser id, until the customer identifies"
    )
    location: LocationRef | None = Field(
        default=None, description="Where lines hold stock unless a line says otherwise"
    )


class CartUpdate(BaseModel):
    """Identify the customer of a cart (a loyalty card scanned at the till, a login in the app)
    or move where its new lines hold stock."""

    model_config = ConfigDict(extra="forbid")

    customer: Identifier | None = None
    location: LocationRef | None = None


class CartLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    qty: int = Field(gt=0, le=MAX_QUANTITY)
    location: LocationRef | None = Field(
        default=None, description="Where to hold the stock; the cart's location when left out"
    )


class CartLineSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    qty: int = Field(ge=0, le=MAX_QUANTITY, description="0 removes the line")
    location: LocationRef | None = None


class CartLineOut(BaseModel):
    sku: str
    location: str
    qty: int
    unit_price: int | None = Field(description="The one current price, VAT included")
    vat_rate: Decimal | None
    line_total: int | None
    held_until: datetime | None = Field(
        description="Until when the units are held for this cart; null: the hold lapsed and "
        "checkout holds them again if it can"
    )


class CartOut(BaseModel):
    id: uuid.UUID
    code: str = Field(description="Short code to open the cart elsewhere (a QR at the till)")
    channel: str
    status: CartStatus
    customer_id: uuid.UUID | None
    anonymous_id: str | None
    location: str | None
    lines: list[CartLineOut]
    currency: str
    total: int
    order_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class Fulfilment(StrEnum):
    SHIP = "ship"
    COLLECT = "collect"
    RESERVE = "reserve"  # reserve online, pay and collect in the store
    IN_STORE = "in_store"  # sold at a till: the goods left with the customer


PICKED_UP = frozenset({Fulfilment.COLLECT, Fulfilment.RESERVE})


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fulfilment: Fulfilment
    pickup_location: LocationRef | None = Field(
        default=None, description="For collect: the store or pickup point"
    )
    ship_to: Address | None = Field(default=None, description="For ship: the address")
    near: str | None = Field(
        default=None,
        description="For ship: `lat,lon` of the address, so routing prefers nearer locations",
        examples=["52.37,4.89"],
    )
    contact: Contact = Field(default_factory=Contact)
    pay_online: bool = Field(
        default=False,
        description="The customer pays through a payment provider: the order awaits payment "
        "(`pay_by`) and is placed when the provider confirms the authorisation; start the "
        "payment with `POST /v1/orders/{id}/payments`",
    )

    @model_validator(mode="after")
    def _what_the_fulfilment_needs(self) -> CheckoutIn:
        if self.pay_online and self.fulfilment is Fulfilment.RESERVE:
            raise ValueError("pay_online: an order reserved to pay in store is paid in store")
        if self.fulfilment in PICKED_UP and self.pickup_location is None:
            raise ValueError(f"pickup_location is required to {self.fulfilment}")
        if self.fulfilment is Fulfilment.SHIP and self.ship_to is None:
            raise ValueError("ship_to is required to ship")
        return self


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  # paid online: until the provider authorises
    PLACED = "placed"
    READY_FOR_PICKUP = "ready_for_pickup"
    COLLECTED = "collected"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    COMPLETED = "completed"  # a till's sale


class OrderLineOut(BaseModel):
    sku: str
    location: str
    qty: int
    unit_price: int
    vat_rate: Decimal
    line_total: int


class OrderChangeOut(BaseModel):
    seq: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    by: str | None
    channel: str | None
    reason: str | None
    details: dict[str, Any]
    at: datetime


class OrderOut(BaseModel):
    id: uuid.UUID
    number: str
    status: OrderStatus
    channel: str
    customer_id: uuid.UUID | None
    cart_id: uuid.UUID | None
    fulfilment: Fulfilment
    reference: str | None = Field(default=None, description="A till's receipt id")
    pickup_location: str | None
    pickup_code: str | None = Field(
        default=None,
        description="The customer's proof at the pickup desk: in the checkout's answer and the "
        "OrderReadyForPickup event only",
    )
    collect_by: datetime | None
    pay_by: datetime | None = Field(
        default=None, description="Paid online: cancelled unless authorised by then"
    )
    ship_to: dict[str, Any] | None
    contact: dict[str, Any]
    currency: str
    total: int
    vat_total: int
    payments: list[dict[str, Any]] = Field(
        default_factory=list, description="Taken at a till; online payments: `/payments`"
    )
    lines: list[OrderLineOut]
    history: list[OrderChangeOut]
    created_at: datetime
    updated_at: datetime
    replayed: bool = Field(default=False, description="This receipt was recorded before")


class OrderAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class CollectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pickup_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=12)
    ]
    payments: list[TillPayment] = Field(
        default_factory=list,
        max_length=20,
        description="Taken at the till; a reserve-and-pay-in-store order needs its total",
    )


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: Annotated[str, StringConstraints(max_length=100)] | None = None
    tracking: Annotated[str, StringConstraints(max_length=200)] | None = None


OrderSort = Literal["newest", "oldest"]


class TillLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    qty: int = Field(gt=0, le=MAX_QUANTITY)
    unit_price: int = Field(ge=0, description="What the till charged a unit, VAT included")
    vat_rate: Decimal = Field(ge=0, le=100, examples=["21"])


class TillPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        examples=["card", "cash", "gift_card"]
    )
    amount: int = Field(description="Minor units; negative for change given")
    reference: Annotated[str, StringConstraints(max_length=120)] | None = None


class TillCustomer(BaseModel):
    """What the till knows of the customer: any of these links the sale to them."""

    model_config = ConfigDict(extra="forbid")

    loyalty_card: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(min_length=3, max_length=40)] | None = None


class TillSale(BaseModel):
    """A completed sale as the till saw it: a fact, recorded even if it drives stock below
    zero (then flagged for reconciliation), once per receipt."""

    model_config = ConfigDict(extra="forbid")

    receipt_id: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    location: LocationRef | None = Field(
        default=None, description="The store; a key bound to a store's channel sets it"
    )
    sold_at: AwareDatetime
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"
    customer: TillCustomer | None = None
    lines: list[TillLine] = Field(min_length=1, max_length=500)
    payments: list[TillPayment] = Field(default_factory=list, max_length=20)


class Disposition(StrEnum):
    RESTOCK = "restock"  # back on sale at the location that received it
    DAMAGED = "damaged"  # kept apart as damaged
    INSPECT = "inspect"  # kept apart until someone looks at it


class RefundMethod(StrEnum):
    ORIGINAL = "original"  # the way the order was paid
    STORE_CREDIT = "store_credit"


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    qty: int = Field(gt=0, le=MAX_QUANTITY)
    disposition: Disposition = Disposition.RESTOCK


class ReturnIn(BaseModel):
    """Goods handed back, at any store or received by post, and how to refund them."""

    model_config = ConfigDict(extra="forbid")

    location: LocationRef = Field(description="Where the goods came in: a store, or the warehouse")
    by_post: bool = False
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    refund: RefundMethod = RefundMethod.ORIGINAL
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class ReturnLineOut(BaseModel):
    sku: str
    qty: int
    disposition: Disposition
    unit_refund: int


class ReturnOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    location: str
    by_post: bool
    channel: str | None
    lines: list[ReturnLineOut]
    refund_method: RefundMethod
    refund_amount: int
    currency: str
    reason: str | None
    created_at: datetime


class StoreCreditOut(BaseModel):
    customer_id: uuid.UUID
    balance: int
    currency: str
    entries: list[dict[str, Any]]
