"""The payment provider interface: how naadloos talks to a payment service provider (PSP).

An online order is paid in three moves (docs/adr/0010-online-payments.md):
1. `start`: after checkout, the provider is asked to authorise the order's total; it answers
   with its reference and what the customer does next (`action`: a redirect, a client secret).
2. The provider confirms what happened through a signed webhook: `notifications` checks the
   signature and reads the events (authorised, refused, captured, cancelled, refunded).
3. At fulfilment the authorisation is `capture`d; a cancelled order's is `void`ed; a return
   to the original method is `refund`ed.

Every call takes an idempotency key, so a call repeated after a crash or by a second worker
does not charge twice. A provider raises `ProviderUnavailable` for what may pass (network,
rate limit, the provider's own errors: naadloos retries) and `PaymentDeclined` for what will
not (a refused capture, an invalid request: recorded, not retried).

Providers are named in `NAADLOOS_PAYMENT_PROVIDERS` (`stripe`, or `name=module:Class` for
one of your own); each reads its own settings (`NAADLOOS_STRIPE_*` for Stripe).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from naadloos.kit.errors import BadRequest, NaadloosError, Unauthorized

BUILT_IN = {"stripe": "naadloos.orders.payments.stripe:Stripe"}


class Outcome(StrEnum):
    """What a provider says about a payment, in naadloos's words."""

    PENDING = "pending"  # waiting for the customer (3-D Secure, a banking app, a redirect)
    AUTHORISED = "authorised"  # the amount is held on the customer's account
    REFUSED = "refused"  # this attempt failed; the customer may try again
    CAPTURED = "captured"
    CANCELLED = "cancelled"  # voided, or expired before it was authorised
    REFUNDED = "refunded"


@dataclass(frozen=True)
class PaymentRequest:
    payment_id: uuid.UUID  # naadloos's reference: the provider keeps it and sends it back
    order_id: uuid.UUID
    order_number: str
    amount: int  # minor units
    currency: str
    method: str | None  # e.g. "ideal", "card"; None lets the provider offer its methods
    return_url: str | None  # where a redirect method brings the customer back
    email: str | None


@dataclass(frozen=True)
class Started:
    reference: str  # the provider's id of the payment
    outcome: Outcome
    action: dict[str, Any] | None  # what the customer's device does next


@dataclass(frozen=True)
class Notification:
    """One event of a webhook call."""

    event_id: str  # the provider's id of the event: a redelivery is recognised by it
    outcome: Outcome
    reference: str
    payment_id: uuid.UUID | None  # naadloos's reference, when the provider echoes it
    amount: int | None  # authorised, captured or (in all) refunded
    kind: str  # the provider's own name for the event


class ProviderError(NaadloosError):
    status = 502
    code = "payment_provider_error"
    title = "The payment provider failed"


class ProviderUnavailable(ProviderError):
    """It may pass: the call is retried."""

    code = "payment_provider_unavailable"
    title = "The payment provider cannot be reached"


class PaymentDeclined(ProviderError):
    """It will not pass: recorded, not retried."""

    status = 409
    code = "payment_declined"
    title = "The payment provider declined"


class BadSignature(Unauthorized):
    code = "bad_signature"
    title = "The webhook's signature does not verify"
    headers: ClassVar[Mapping[str, str]] = {}  # not an API key's realm


class BadNotification(BadRequest):
    code = "bad_notification"
    title = "The webhook's body cannot be read"


class Provider(Protocol):
    name: str

    def start(self, request: PaymentRequest) -> Started: ...

    def capture(self, reference: str, amount: int, *, key: str) -> Outcome: ...

    def void(self, reference: str, *, key: str) -> Outcome: ...

    def refund(self, reference: str, amount: int, *, key: str) -> Outcome: ...

    def notifications(self, body: bytes, headers: Mapping[str, str]) -> list[Notification]: ...


def load_providers(spec: str) -> dict[str, Provider]:
    """`stripe,acme=acme.pay:Acme` -> the providers by name, each built from its settings."""
    found: dict[str, Provider] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, target = item.partition("=")
        name = name.strip()
        target = target.strip() or BUILT_IN.get(name, "")
        if not target:
            raise ValueError(
                f"unknown payment provider {name!r}: use one of {sorted(BUILT_IN)} "
                "or name=module:Class"
            )
        module_name, _, attr = target.partition(":")
        if not attr:
            raise ValueError(f"{target!r} is not module:Class")
        factory = getattr(importlib.import_module(module_name), attr)
        provider: Provider = factory.from_settings(name)
        if name in found:
            raise ValueError(f"payment provider {name!r} is named twice")
        found[name] = provider
    return found
