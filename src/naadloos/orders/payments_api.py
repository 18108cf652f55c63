"""Online payments of orders over HTTP: start one, read them, and the providers' webhooks."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from naadloos.kit.auth import Principal
from naadloos.kit.blocking import run_db
from naadloos.kit.errors import NotFound
from naadloos.kit.http import OwnTransactionsRoute, TransactionalRoute, get_session
from naadloos.kit.idempotency import HEADER, REPLAYED_HEADER
from naadloos.kit.problems import RESPONSES
from naadloos.orders.api import READ, WRITE
from naadloos.orders.payment_schemas import PaymentOut, PaymentStart
from naadloos.orders.service import payment_start, payments

router = APIRouter(tags=["orders"], route_class=TransactionalRoute, responses=RESPONSES)
# Starting a payment calls the provider: the endpoint commits before and after the call itself.
calling_out = APIRouter(tags=["orders"], route_class=OwnTransactionsRoute, responses=RESPONSES)


@calling_out.post(
    "/v1/orders/{order_id}/payments",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "`order_status`: the order awaits no payment; `payment_declined`"},
        502: {"description": "`payment_provider_unavailable`: try again"},
    },
)
async def start_payment(
    order_id: uuid.UUID,
    data: PaymentStart,
    request: Request,
    response: Response,
    *,
    principal: Principal = Depends(WRITE),
    idempotency_key: str | None = Header(None, alias=HEADER, min_length=1, max_length=200),
) -> PaymentOut:
    """Pay an order awaiting payment through a provider: the answer says what the customer's
    device does next (`action`, e.g. Stripe's `client_secret`). The provider confirms through
    its webhook; the order is placed when the payment is authorised. A refused payment can be
    tried again (another method, another card) until the order's `pay_by`. Send an
    `Idempotency-Key`: a retry gets the same payment."""
    runtime = request.app.state.runtime
    payment, again = await run_in_threadpool(
        payment_start.start,
        runtime.db,
        runtime.payments,
        order_id,
        data,
        key=idempotency_key,
        by=principal.name,
    )
    if again:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAYED_HEADER] = "true"
    response.headers["Location"] = f"/v1/payments/{payment.id}"
    return payment


@router.get("/v1/orders/{order_id}/payments", dependencies=[READ])
def order_payments(
    order_id: uuid.UUID, session: Session = Depends(get_session)
) -> list[PaymentOut]:
    """Every online payment of the order, each with its history (what the provider reported,
    what naadloos asked of it)."""
    return payments.payments_of(session, order_id)


@router.get("/v1/payments/{payment_id}", dependencies=[READ])
def get_payment(payment_id: uuid.UUID, session: Session = Depends(get_session)) -> PaymentOut:
    return payments.payment_out(session, payments.get_payment(session, payment_id))


@router.post(
    "/v1/payments/{provider}/webhook",
    responses={401: {"description": "`bad_signature`"}, 400: {"description": "`bad_notification`"}},
)
async def payment_webhook(
    provider: str, request: Request, session: Session = Depends(get_session)
) -> dict[str, int]:
    """Where a payment provider reports (no API key: the provider's signature is checked).
    Each event counts once, however often it is delivered."""
    found = request.app.state.runtime.payments.get(provider)
    if found is None:
        raise NotFound(f"no payment provider {provider!r} is configured", field="provider")
    notifications = found.notifications(await request.body(), request.headers)
    applied = await run_db(payments.apply, session, found, notifications)
    return {"received": len(notifications), "applied": applied}
