"""Stripe, through its official client library: a PaymentIntent with manual capture is the
authorisation, the customer's device confirms it with its `client_secret` (Stripe.js or a
mobile SDK), Stripe's signed webhooks say what happened.

Settings: `NAADLOOS_STRIPE_API_KEY`, `NAADLOOS_STRIPE_WEBHOOK_SECRET` (the endpoint's `whsec_`
secret) and, for a test double, `NAADLOOS_STRIPE_API_BASE`. The webhook endpoint to register
at Stripe is `/v1/payments/stripe/webhook`, for the events `payment_intent.*` and
`charge.refunded`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import stripe
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from naadloos.orders.payments import (
    BadNotification,
    BadSignature,
    Notification,
    Outcome,
    PaymentDeclined,
    PaymentRequest,
    ProviderUnavailable,
    Started,
)

T = TypeVar("T")

# A PaymentIntent's status, in naadloos's words.
STATUS = {
    "requires_payment_method": Outcome.PENDING,
    "requires_confirmation": Outcome.PENDING,
    "requires_action": Outcome.PENDING,
    "processing": Outcome.PENDING,
    "requires_capture": Outcome.AUTHORISED,
    "succeeded": Outcome.CAPTURED,
    "canceled": Outcome.CANCELLED,
}
# Webhook event types and what they mean; others are acknowledged and ignored.
EVENTS = {
    "payment_intent.amount_capturable_updated": Outcome.AUTHORISED,
    "payment_intent.payment_failed": Outcome.REFUSED,
    "payment_intent.succeeded": Outcome.CAPTURED,
    "payment_intent.canceled": Outcome.CANCELLED,
    "charge.refunded": Outcome.REFUNDED,
}
METADATA_KEY = "naadloos_payment"


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NAADLOOS_STRIPE_", env_file=".env", extra="ignore"
    )

    api_key: SecretStr
    webhook_secret: SecretStr
    api_base: str | None = None
    tolerance_seconds: int = 300  # how old a signed webhook may be (replays are refused)
    max_network_retries: int = 2
    # A call waits at most this long (Stripe's library would wait 80 s): a provider that hangs
    # must not hold a customer's request or the event dispatcher for minutes.
    timeout_seconds: float = 15.0


def _call(fn: Callable[[], T]) -> T:
    """Stripe's errors as the interface's: what may pass, and what will not."""
    try:
        return fn()
    except (
        stripe.APIConnectionError,
        stripe.RateLimitError,
        stripe.APIError,
        stripe.AuthenticationError,
        stripe.PermissionError,
    ) as exc:
        raise ProviderUnavailable(f"stripe: {exc.user_message or exc}") from exc
    except stripe.StripeError as exc:
        raise PaymentDeclined(f"stripe: {exc.user_message or exc}") from exc


class Stripe:
    def __init__(self, name: str, settings: StripeSettings) -> None:
        self.name = name
        self._settings = settings
        addresses: Any = {"api": settings.api_base} if settings.api_base else None
        self._client = stripe.StripeClient(
            settings.api_key.get_secret_value(),
            base_addresses=addresses,
            max_network_retries=settings.max_network_retries,
            http_client=stripe.RequestsClient(timeout=settings.timeout_seconds),
        )

    @classmethod
    def from_settings(cls, name: str) -> Stripe:
        return cls(name, StripeSettings())  # the keys come from the environment

    def start(self, request: PaymentRequest) -> Started:
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "capture_method": "manual",  # authorise now, capture at fulfilment
            "description": f"Order {request.order_number}",
            "metadata": {METADATA_KEY: str(request.payment_id), "order": request.order_number},
        }
        if request.method:
            params["payment_method_types"] = [request.method]
        else:
            params["automatic_payment_methods"] = {"enabled": True}
        if request.email:
            params["receipt_email"] = request.email
        intent = _call(
            lambda: self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"start-{request.payment_id}"},
            )
        )
        action = {"type": "stripe_client_secret", "client_secret": intent.client_secret}
        if request.return_url:
            action["return_url"] = request.return_url
        return Started(intent.id, STATUS.get(intent.status, Outcome.PENDING), action)

    def capture(self, reference: str, amount: int, *, key: str) -> Outcome:
        intent = _call(
            lambda: self._client.v1.payment_intents.capture(
                reference, params={"amount_to_capture": amount}, options={"idempotency_key": key}
            )
        )
        return STATUS.get(intent.status, Outcome.PENDING)

    def void(self, reference: str, *, key: str) -> Outcome:
        intent = _call(
            lambda: self._client.v1.payment_intents.cancel(
                reference, options={"idempotency_key": key}
            )
        )
        return STATUS.get(intent.status, Outcome.PENDING)

    def refund(self, reference: str, amount: int, *, key: str) -> Outcome:
        refund = _call(
            lambda: self._client.v1.refunds.create(
                params={"payment_intent": reference, "amount": amount},
                options={"idempotency_key": key},
            )
        )
        if refund.status in {"failed", "canceled"}:
            raise PaymentDeclined(f"stripe refused the refund: {refund.status}")
        return Outcome.REFUNDED

    def notifications(self, body: bytes, headers: Mapping[str, str]) -> list[Notification]:
        signature = headers.get("stripe-signature")
        if not signature:
            raise BadSignature("the Stripe-Signature header is missing")
        secret = self._settings.webhook_secret.get_secret_value()
        try:
            stripe.WebhookSignature.verify_header(
                body,
                signature,
                secret,
                self._settings.tolerance_seconds,
            )
        except stripe.SignatureVerificationError as exc:
            raise BadSignature(f"stripe: {exc}") from exc
        try:
            event = json.loads(body)
            kind = event["type"]
            obj = event["data"]["object"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadNotification(f"not a Stripe event: {exc}") from exc
        outcome = EVENTS.get(kind)
        if outcome is None:
            return []
        if not event.get("id"):
            raise BadNotification(f"a {kind} event without its id")
        if outcome is Outcome.REFUNDED:  # a charge: its intent is the payment
            reference, amount = obj.get("payment_intent"), obj.get("amount_refunded")
        else:
            reference = obj.get("id")
            amount = {
                Outcome.AUTHORISED: obj.get("amount_capturable"),
                Outcome.CAPTURED: obj.get("amount_received"),
            }.get(outcome, obj.get("amount"))
        if not isinstance(reference, str):
            raise BadNotification(f"a {kind} event without its payment intent")
        ours = (obj.get("metadata") or {}).get(METADATA_KEY)
        try:
            payment_id = uuid.UUID(ours) if ours else None
        except ValueError:
            payment_id = None  # another system's intent on the same account
        return [
            Notification(
                event_id=str(event["id"]),
                outcome=outcome,
                reference=reference,
                payment_id=payment_id,
                amount=amount if isinstance(amount, int) else None,
                kind=kind,
            )
        ]
