"""Many buyers at once for the last units, through carts and checkout: never oversold, never
half an order, and the ledger always adds up. Each buyer is a thread with its own connections
and transactions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from naadloos.inventory.service import expiry
from naadloos.inventory.service.reservations import InsufficientStock
from naadloos.kit.errors import Conflict
from naadloos.kit.time import utcnow
from naadloos.orders.models import Order, OrderLine
from naadloos.orders.schemas import CartCreate, CheckoutIn, TillSale
from naadloos.orders.service import carts, checkout, till
from naadloos.orders.service.carts import Policy
from naadloos.runtime import Runtime
from tests.inventory.test_concurrency import check_ledger

BUYERS = 24
POLICY = Policy()
COLLECT = CheckoutIn.model_validate({"fulfilment": "collect", "pickup_location": "store:utrecht"})


def together(jobs: list[Callable[[], str]]) -> Counter[str]:
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], str]) -> str:
        start.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return Counter(pool.map(run, jobs))


def open_cart(runtime: Runtime) -> uuid.UUID:
    with runtime.db.unit_of_work() as session:
        data = CartCreate(channel="web", location="store:utrecht")
        return carts.create_cart(session, data, key_channel=None, by="racer").cart.id


def payer(runtime: Runtime, cart_id: uuid.UUID) -> Callable[[], str]:
    """Check the cart out (click & collect in Utrecht); the refusal's code if refused."""

    def pay() -> str:
        try:
            with runtime.db.unit_of_work() as session:
                checkout.checkout(
                    session, cart_id, COLLECT, policy=POLICY, by="racer", channel=None
                )
        except Conflict as exc:
            return exc.code
        return "bought"

    return pay


def buyer(runtime: Runtime, sku: str, qty: int) -> Callable[[], str]:
    """Open a cart, add the SKU, check out: three requests, as a shopper makes them."""

    def buy() -> str:
        cart_id = open_cart(runtime)
        try:
            with runtime.db.unit_of_work() as session:
                carts.set_line(
                    session, cart_id, sku, qty, location=None, add=True, policy=POLICY, by="racer"
                )
        except InsufficientStock:
            return "no stock"
        return payer(runtime, cart_id)()

    return buy


def sold(runtime: Runtime, sku: str) -> int:
    with runtime.db.unit_of_work(write=False) as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(OrderLine.quantity), 0)).where(OrderLine.sku == sku)
            )
            or 0
        )


def test_buyers_racing_for_the_last_units_never_oversell(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    # store:utrecht has 3 jackets and 5 caps
    jobs = [buyer(runtime, "JAS-M", 1) for _ in range(BUYERS // 2)]
    jobs += [buyer(runtime, "PET-1", 2) for _ in range(BUYERS // 2)]

    outcome = together(jobs)

    assert outcome == {"bought": 3 + 2, "no stock": BUYERS - 5}
    assert (sold(runtime, "JAS-M"), sold(runtime, "PET-1")) == (3, 4)
    check_ledger(runtime)


def test_checkouts_racing_on_lapsed_holds_never_oversell(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    """Every cart held a jacket once; the holds lapsed; all check out at once for 3 units."""
    cart_ids = [open_cart(runtime) for _ in range(6)]
    for i, cart_id in enumerate(cart_ids):
        with runtime.db.unit_of_work() as session:
            carts.set_line(
                session, cart_id, "JAS-M", 1, location=None, add=True, policy=POLICY, by="racer"
            )
        if i % 3 == 2:  # three holds at a time, then they lapse
            with runtime.db.unit_of_work() as session:
                expiry.expire_due(session, at=utcnow() + timedelta(hours=1))

    outcome = together([payer(runtime, c) for c in cart_ids])

    assert outcome == {"bought": 3, "insufficient_stock": 3}
    assert sold(runtime, "JAS-M") == 3
    check_ledger(runtime)


def test_one_cart_checked_out_twice_at_once_is_one_order(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    cart_id = open_cart(runtime)
    with runtime.db.unit_of_work() as session:
        carts.set_line(
            session, cart_id, "PET-1", 1, location=None, add=True, policy=POLICY, by="racer"
        )

    outcome = together([payer(runtime, cart_id) for _ in range(8)])

    assert outcome == {"bought": 1, "cart_closed": 7}
    with runtime.db.unit_of_work(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
    check_ledger(runtime)


def test_one_receipt_sent_by_two_tills_at_once_is_one_sale(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    receipt = TillSale.model_validate(
        {
            "receipt_id": "UT-9",
            "location": "store:utrecht",
            "sold_at": "2026-11-21T16:05:00+01:00",
            "lines": [{"sku": "PET-1", "qty": 2, "unit_price": 1995, "vat_rate": "21"}],
        }
    )

    def send() -> str:
        with runtime.db.unit_of_work() as session:
            order = till.record_sale(session, receipt, key_channel="web", by="till")
        return "replayed" if order.replayed else "recorded"

    outcome = together([send for _ in range(6)])

    assert outcome == {"recorded": 1, "replayed": 5}
    assert sold(runtime, "PET-1") == 2
    check_ledger(runtime)
