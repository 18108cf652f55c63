"""The API's shapes of online payments: starting one for an order, and a payment as its order's
history shows it (status, amounts captured and refunded, the provider's events)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class PaymentStatus(StrEnum):
    NEW = "new"  # recorded, the provider not asked yet
    PENDING = "pending"  # waiting for the customer
    AUTHORISED = "authorised"
    CAPTURED = "captured"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    FAILED = "failed"  # the provider could not be asked or would not start it


class PaymentStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        description="A provider configured in `NAADLOOS_PAYMENT_PROVIDERS`", examples=["stripe"]
    )
    method: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = Field(
        default=None, description="e.g. `ideal`, `card`; left out, the provider offers its own"
    )
    return_url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None


class PaymentEventOut(BaseModel):
    kind: str
    outcome: str | None
    amount: int | None
    details: dict[str, Any]
    at: datetime


class PaymentOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    method: str | None
    status: PaymentStatus
    amount: int
    currency: str
    captured: int
    refunded: int
    reference: str | None = Field(description="The provider's id of the payment")
    action: dict[str, Any] | None = Field(
        description="What the customer's device does next, e.g. Stripe's `client_secret`"
    )
    error: str | None
    events: list[PaymentEventOut]
    created_at: datetime
    updated_at: datetime
