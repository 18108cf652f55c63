from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.orm import Session

from naadloos.kit.auth import Principal, require
from naadloos.kit.http import IDEMPOTENT, TransactionalRoute, get_session, given
from naadloos.kit.pagination import Page, PageParams, page_params
from naadloos.kit.problems import RESPONSES
from naadloos.orders.schemas import (
    CartCreate,
    CartLineIn,
    CartLineSet,
    CartOut,
    CartUpdate,
    CheckoutIn,
    CollectIn,
    OrderAction,
    OrderOut,
    OrderStatus,
    ReturnIn,
    ReturnOut,
    ShipIn,
    StoreCreditOut,
    TillSale,
)
from naadloos.orders.service import (
    book,
    cart_view,
    carts,
    checkout,
    orders,
    people,
    returns,
    routing,
    till,
)
from naadloos.orders.service.carts import Policy

router = APIRouter(tags=["orders"], route_class=TransactionalRoute, responses=RESPONSES)

READ = Depends(require("orders:read"))
WRITE = require("orders:write")


def _policy(request: Request) -> Policy:
    settings = request.app.state.runtime.settings
    return Policy(
        settings.cart_hold_seconds,
        settings.collect_within_hours,
        settings.reserve_within_hours,
        routing.load(settings.order_router),
        settings.pay_within_minutes,
    )


policy = given(_policy)


@router.post("/v1/carts", status_code=status.HTTP_201_CREATED, dependencies=[IDEMPOTENT])
def create_cart(
    data: CartCreate,
    response: Response,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> CartOut:
    """Open a cart for a customer (an identifier), a device (`anonymous_id`) or nobody yet;
    its short `code` opens it on any other channel."""
    view = carts.create_cart(session, data, key_channel=principal.channel, by=principal.name)
    response.headers["Location"] = f"/v1/carts/{view.cart.id}"
    return cart_view.cart_out(session, view)


@router.get("/v1/carts", dependencies=[READ])
def open_carts(
    customer: str = Query(
        min_length=3,
        max_length=320,
        description="An identifier of the customer, e.g. `loyalty_card:NL-000123`",
    ),
    session: Session = Depends(get_session),
) -> list[CartOut]:
    """The customer's open carts, newest first, whichever channel they were started in: what
    a store associate opens when the customer shows their loyalty card."""
    return [
        cart_view.cart_out(session, cart_view.filled(session, cart))
        for cart in carts.open_carts_of(session, customer)
    ]


@router.get("/v1/carts/by-code/{code}", dependencies=[READ])
def cart_by_code(code: str, session: Session = Depends(get_session)) -> CartOut:
    """The cart behind a short code or its QR (read as typed: `o` is `0`, `l` is `1`)."""
    return cart_view.cart_out(session, cart_view.filled(session, carts.cart_by_code(session, code)))


@router.get("/v1/carts/{cart_id}", dependencies=[READ])
def get_cart(cart_id: uuid.UUID, session: Session = Depends(get_session)) -> CartOut:
    return cart_view.cart_out(session, cart_view.filled(session, carts.get_cart(session, cart_id)))


@router.patch("/v1/carts/{cart_id}", dependencies=[Depends(WRITE)])
def update_cart(
    cart_id: uuid.UUID, data: CartUpdate, session: Session = Depends(get_session)
) -> CartOut:
    """Identify the customer (a loyalty card scanned at the till, a login in the app) or set
    where new lines hold stock."""
    return cart_view.cart_out(session, carts.update_cart(session, cart_id, data))


@router.post("/v1/carts/{cart_id}/lines", responses={409: {"description": "`insufficient_stock`"}})
def add_line(
    cart_id: uuid.UUID,
    data: CartLineIn,
    principal: Principal = Depends(WRITE),
    rules: Policy = Depends(policy),
    session: Session = Depends(get_session),
) -> CartOut:
    """Add units of a SKU: the whole line is held for the cart (`held_until`), or 409
    `insufficient_stock` with what is available, and the cart stays as it was."""
    view = carts.set_line(
        session,
        cart_id,
        data.sku,
        data.qty,
        location=data.location,
        add=True,
        policy=rules,
        by=principal.name,
    )
    return cart_view.cart_out(session, view)


@router.put("/v1/carts/{cart_id}/lines/{sku}")
def set_line(
    cart_id: uuid.UUID,
    sku: str,
    data: CartLineSet,
    *,
    principal: Principal = Depends(WRITE),
    rules: Policy = Depends(policy),
    session: Session = Depends(get_session),
) -> CartOut:
    """Set the quantity of a line (0 removes it)."""
    view = carts.set_line(
        session,
        cart_id,
        sku,
        data.qty,
        location=data.location,
        add=False,
        policy=rules,
        by=principal.name,
    )
    return cart_view.cart_out(session, view)


@router.delete("/v1/carts/{cart_id}/lines/{sku}", dependencies=[Depends(WRITE)])
def remove_line(
    cart_id: uuid.UUID,
    sku: str,
    location: str | None = None,
    session: Session = Depends(get_session),
) -> CartOut:
    """Remove a SKU's line (at one location, or at all); its units go back on sale."""
    return cart_view.cart_out(session, carts.remove_line(session, cart_id, sku, location=location))


@router.post(
    "/v1/carts/{cart_id}/checkout",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IDEMPOTENT],
    responses={409: {"description": "`insufficient_stock` with `missing`, `cart_closed`"}},
)
def checkout_cart(
    cart_id: uuid.UUID,
    data: CheckoutIn,
    response: Response,
    *,
    principal: Principal = Depends(WRITE),
    rules: Policy = Depends(policy),
    session: Session = Depends(get_session),
) -> OrderOut:
    """Turn the cart into an order: every hold becomes an allocation in one transaction, or
    409 lists what is `missing` and nothing changes. Send an `Idempotency-Key`: a retry gets
    the same order."""
    order = checkout.checkout(
        session, cart_id, data, policy=rules, by=principal.name, channel=principal.channel
    )
    response.headers["Location"] = f"/v1/orders/{order.id}"
    return order


@router.get("/v1/orders", dependencies=[READ])
def list_orders(
    customer: str | None = Query(None, description="An identifier of the customer"),
    order_status: OrderStatus | None = Query(None, alias="status"),
    channel: str | None = None,
    page: PageParams = Depends(page_params),
    session: Session = Depends(get_session),
) -> Page[OrderOut]:
    """Orders, oldest first, of one customer (from every channel), a status or a channel."""
    ids = None if customer is None else people.ids_of(session, customer)
    rows, cursor = book.list_orders(
        session, page, customer_ids=ids, status=order_status, channel=channel
    )
    return Page[OrderOut](items=[book.order_out(session, o) for o in rows], next_cursor=cursor)


@router.get("/v1/orders/{order_id}", dependencies=[READ])
def get_order(order_id: uuid.UUID, session: Session = Depends(get_session)) -> OrderOut:
    return book.order_out(session, book.get_order(session, order_id))


@router.post("/v1/orders/{order_id}/ready")
def ready_for_pickup(
    order_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> OrderOut:
    """The goods are at the pickup desk: the customer is notified (OrderReadyForPickup) and
    has `collect_by` to come, or the order is cancelled and the units go back on sale."""
    hours = request.app.state.runtime.settings.collect_within_hours
    order = orders.mark_ready(
        session, order_id, collect_within_hours=hours, by=principal.name, channel=principal.channel
    )
    return book.order_out(session, order)


@router.post("/v1/orders/{order_id}/collect")
def collect(
    order_id: uuid.UUID,
    data: CollectIn,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> OrderOut:
    """The customer collects with their pickup code: a sale in the stock ledger."""
    order = orders.collect(
        session,
        order_id,
        data.pickup_code,
        payments=[p.model_dump(exclude_none=True) for p in data.payments],
        by=principal.name,
        channel=principal.channel,
    )
    return book.order_out(session, order)


@router.post("/v1/orders/{order_id}/ship")
def ship(
    order_id: uuid.UUID,
    data: ShipIn,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> OrderOut:
    """The parcel left: a sale in the stock ledger of the location it left from."""
    order = orders.ship(
        session,
        order_id,
        carrier=data.carrier,
        tracking=data.tracking,
        by=principal.name,
        channel=principal.channel,
    )
    return book.order_out(session, order)


@router.post("/v1/orders/{order_id}/cancel")
def cancel(
    order_id: uuid.UUID,
    data: OrderAction,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> OrderOut:
    """Cancel an order that has not left yet, from any channel: its units go back on sale."""
    order = orders.cancel(
        session, order_id, reason=data.reason, by=principal.name, channel=principal.channel
    )
    return book.order_out(session, order)


@router.post("/v1/till/sales", status_code=status.HTTP_201_CREATED, dependencies=[IDEMPOTENT])
def till_sale(
    data: TillSale,
    response: Response,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> OrderOut:
    """A completed sale from a till, possibly sent after being offline: recorded once by its
    receipt id (a resend answers 200 with `replayed`), in the stock ledger even below zero,
    and linked to the customer by the loyalty card, email or phone on the receipt."""
    order = till.record_sale(session, data, key_channel=principal.channel, by=principal.name)
    if order.replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/orders/{order.id}"
    return order


@router.post(
    "/v1/orders/{order_id}/returns",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IDEMPOTENT],
)
def return_goods(
    order_id: uuid.UUID,
    data: ReturnIn,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> ReturnOut:
    """Goods of an order come back, at any store or by post, started from any channel: they
    are restocked at the receiving location (or kept apart as damaged or to inspect) and the
    refund goes to the way the order was paid or to store credit."""
    return returns.receive_return(
        session, order_id, data, by=principal.name, channel=principal.channel
    )


@router.get("/v1/orders/{order_id}/returns", dependencies=[READ])
def list_returns(order_id: uuid.UUID, session: Session = Depends(get_session)) -> list[ReturnOut]:
    return returns.returns_of(session, order_id)


@router.get("/v1/store-credit", dependencies=[READ])
def store_credit(
    customer: str = Query(min_length=3, max_length=320, description="An identifier"),
    session: Session = Depends(get_session),
) -> StoreCreditOut:
    """The customer's store credit: balance and every entry."""
    return returns.store_credit(session, customer)
