"""Paying online: authorise at checkout, the provider's signed webhook places the order, capture
when the goods leave, void when it is cancelled, refund on a return; retries that never charge
twice. Through the real `stripe` client library, against a Stripe stand-in on a local port."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from naadloos.api.app import create_app
from naadloos.kit.models import OutboxEvent
from naadloos.kit.settings import Settings
from naadloos.kit.time import utcnow
from naadloos.orders.models import Order
from naadloos.orders.payment_schemas import PaymentStart
from naadloos.orders.payments import Notification, Outcome, Started
from naadloos.orders.service import orders, payment_start, payments
from naadloos.runtime import Runtime, build_runtime
from tests.conftest import Baseline, _reset
from tests.inventory.conftest import level
from tests.orders.conftest import COLLECT_UTRECHT, SHIP_HOME, add, checkout, new_cart
from tests.orders.stripe_double import WEBHOOK_SECRET, StripeDouble, event, signed, stripe_double

WEBHOOK = "/v1/payments/stripe/webhook"


@pytest.fixture
def stripe_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeDouble]:
    with stripe_double() as double:
        monkeypatch.setenv("NAADLOOS_STRIPE_API_KEY", "sk_test_naadloos")
        monkeypatch.setenv("NAADLOOS_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        monkeypatch.setenv("NAADLOOS_STRIPE_API_BASE", double.url)
        monkeypatch.setenv("NAADLOOS_STRIPE_MAX_NETWORK_RETRIES", "0")
        yield double


@pytest.fixture
def runtime(settings: Settings, baseline: Baseline, stripe_api: StripeDouble) -> Iterator[Runtime]:
    """The runtime of a shop that takes payments through Stripe."""
    rt = build_runtime(settings.model_copy(update={"payment_providers": "stripe"}))
    try:
        yield rt
    finally:
        _reset(rt, baseline)
        asyncio.run(rt.close())


def awaiting(
    client: TestClient, key: dict[str, str], fulfilment: dict[str, Any] = SHIP_HOME, qty: int = 2
) -> dict[str, Any]:
    cart = new_cart(client, key, location="store:utrecht")
    assert add(client, key, cart, "JAS-M", qty).status_code == 200
    response = checkout(client, key, cart, pay_online=True, **fulfilment)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def pay(client: TestClient, key: dict[str, str], order: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/v1/orders/{order['id']}/payments",
        json={"provider": "stripe", "method": "card"},
        headers={**key, **headers},
    )


def paid(
    client: TestClient,
    key: dict[str, str],
    stripe_api: StripeDouble,
    fulfilment: dict[str, Any] = SHIP_HOME,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order paid online, its payment authorised by the provider's webhook."""
    order = awaiting(client, key, fulfilment)
    payment: dict[str, Any] = pay(client, key, order).json()
    assert webhook(client, stripe_api.customer_pays(payment["reference"])).status_code == 200
    return order, payment


def webhook(client: TestClient, payload: dict[str, Any]) -> Any:
    body, headers = signed(payload)
    return client.post(WEBHOOK, content=body, headers=headers)


def get(client: TestClient, key: dict[str, str], path: str) -> Any:
    response = client.get(path, headers=key)
    assert response.status_code == 200, response.text
    return response.json()


def names(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    with runtime.db.unit_of_work(write=False) as session:
        return [
            e.payload for e in session.scalars(select(OutboxEvent).where(OutboxEvent.name == name))
        ]


def test_paid_online_the_order_is_placed_when_the_provider_authorises(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble, runtime: Runtime
) -> None:
    order = awaiting(client, store)
    assert order["status"] == "awaiting_payment"
    assert order["pay_by"] is not None
    assert level(client, store, "JAS-M", "store:utrecht")["allocated"] == 2  # kept meanwhile
    assert names(runtime, "OrderPlaced") == []  # nobody ships an order not paid for

    started = pay(client, store, order)

    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"] == "pending"
    assert payment["amount"] == 2 * 8995 == order["total"]
    assert payment["action"]["type"] == "stripe_client_secret"
    assert payment["action"]["client_secret"].startswith(payment["reference"])
    [create] = stripe_api.calls_to("/v1/payment_intents")
    assert create.params["capture_method"] == "manual"  # authorise now, capture at fulfilment
    assert (create.params["amount"], create.params["currency"]) == ("17990", "eur")
    assert create.params["metadata"]["naadloos_payment"] == payment["id"]
    assert create.idempotency_key == f"start-{payment['id']}"

    authorised = stripe_api.customer_pays(payment["reference"])
    first = webhook(client, authorised)
    again = webhook(client, authorised)  # Stripe delivers at least once

    assert first.json() == {"received": 1, "applied": 1}
    assert again.json() == {"received": 1, "applied": 0}
    placed = get(client, store, f"/v1/orders/{order['id']}")
    assert placed["status"] == "placed"
    assert [h["to_status"] for h in placed["history"]] == ["awaiting_payment", "placed"]
    assert placed["history"][1]["by"] == "provider:stripe"
    [event_placed] = names(runtime, "OrderPlaced")
    assert event_placed["order_id"] == order["id"]
    assert len(names(runtime, "PaymentAuthorised")) == 1


def test_the_goods_leaving_captures_the_authorisation_once(
    client: TestClient,
    store: dict[str, str],
    stripe_api: StripeDouble,
    deliver: Any,
) -> None:
    order, payment = paid(client, store, stripe_api)

    shipped = client.post(f"/v1/orders/{order['id']}/ship", json={}, headers=store)
    deliver()
    deliver()

    assert shipped.status_code == 200, shipped.text
    [capture] = stripe_api.calls_to("/capture")
    assert capture.params["amount_to_capture"] == str(order["total"])
    assert capture.idempotency_key == f"capture-{payment['id']}"
    [after] = get(client, store, f"/v1/orders/{order['id']}/payments")
    assert (after["status"], after["captured"]) == ("captured", order["total"])
    assert [e["kind"] for e in after["events"]] == [
        "start",
        "webhook:payment_intent.amount_capturable_updated",
        "capture",
    ]
    # Stripe's own news of the capture afterwards changes nothing.
    intent = stripe_api.intents[payment["reference"]]
    assert webhook(client, event("payment_intent.succeeded", intent)).json()["applied"] == 1
    assert get(client, store, f"/v1/payments/{payment['id']}")["captured"] == order["total"]


def test_a_refused_card_can_be_tried_again_until_pay_by(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble
) -> None:
    order = awaiting(client, store, COLLECT_UTRECHT)
    payment = pay(client, store, order).json()

    webhook(client, stripe_api.card_refused(payment["reference"]))
    refused = get(client, store, f"/v1/payments/{payment['id']}")
    still = get(client, store, f"/v1/orders/{order['id']}")
    webhook(client, stripe_api.customer_pays(payment["reference"]))  # another card, same intent

    assert refused["status"] == "refused"
    assert still["status"] == "awaiting_payment"
    assert still["history"][-1]["details"]["outcome"] == "refused"
    assert get(client, store, f"/v1/orders/{order['id']}")["status"] == "placed"


def test_a_second_start_with_the_same_idempotency_key_is_the_same_payment(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble
) -> None:
    order = awaiting(client, store)

    first = pay(client, store, order, **{"Idempotency-Key": "pay-1"})
    second = pay(client, store, order, **{"Idempotency-Key": "pay-1"})
    other = client.post(
        f"/v1/orders/{order['id']}/payments",
        json={"provider": "stripe", "method": "ideal"},
        headers={**store, "Idempotency-Key": "pay-1"},
    )

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert len(stripe_api.calls_to("/v1/payment_intents")) == 1
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


def test_what_cannot_be_paid_online_is_refused_by_name(
    client: TestClient, store: dict[str, str]
) -> None:
    cart = new_cart(client, store, location="store:utrecht")
    add(client, store, cart, "JAS-M", 1)
    reserve = checkout(
        client,
        store,
        cart,
        pay_online=True,
        fulfilment="reserve",
        pickup_location="store:utrecht",
    )
    placed = checkout(client, store, cart, **SHIP_HOME).json()  # paid some other way
    unpaid = awaiting(client, store)

    not_awaiting = pay(client, store, placed)
    unknown = client.post(
        f"/v1/orders/{unpaid['id']}/payments", json={"provider": "paypal"}, headers=store
    )
    no_order = client.post(
        "/v1/orders/00000000-0000-0000-0000-000000000000/payments",
        json={"provider": "stripe"},
        headers=store,
    )

    assert reserve.status_code == 422
    assert "paid in store" in reserve.text
    assert (not_awaiting.status_code, not_awaiting.json()["code"]) == (409, "order_status")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "provider"
    assert "stripe" in unknown.json()["errors"][0]["message"]
    assert no_order.status_code == 404


def test_a_webhook_that_does_not_verify_changes_nothing(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble
) -> None:
    order = awaiting(client, store)
    payment = pay(client, store, order).json()
    authorised = stripe_api.customer_pays(payment["reference"])

    body, headers = signed(authorised, secret="whsec_guess")
    forged = client.post(WEBHOOK, content=body, headers=headers)
    body, headers = signed(authorised, at=int(time.time()) - 3600)
    stale = client.post(WEBHOOK, content=body, headers=headers)  # a replay of an old call
    unsigned = client.post(WEBHOOK, json=authorised)
    body, headers = signed(authorised)
    tampered = client.post(WEBHOOK, content=body.replace(b"17990", b"1"), headers=headers)
    unknown = client.post("/v1/payments/paypal/webhook", content=body, headers=headers)
    garbage = webhook(client, {"nonsense": 1})  # signed, but not an event

    for response in (forged, stale, unsigned, tampered):
        assert (response.status_code, response.json()["code"]) == (401, "bad_signature")
        assert "WWW-Authenticate" not in response.headers
    assert unknown.status_code == 404
    assert (garbage.status_code, garbage.json()["code"]) == (400, "bad_notification")
    assert get(client, store, f"/v1/orders/{order['id']}")["status"] == "awaiting_payment"
    assert get(client, store, f"/v1/payments/{payment['id']}")["status"] == "pending"


def test_events_of_unknown_payments_and_other_types_are_acknowledged(
    client: TestClient, stripe_api: StripeDouble, store: dict[str, str]
) -> None:
    stranger = {"id": "pi_other_shop", "object": "payment_intent", "amount": 5, "metadata": {}}

    other_type = webhook(client, event("customer.created", {"id": "cus_1"}))
    not_ours = webhook(client, event("payment_intent.amount_capturable_updated", stranger))

    assert other_type.json() == {"received": 0, "applied": 0}
    assert not_ours.json() == {"received": 1, "applied": 1}  # kept, and answered 200


def test_an_order_not_paid_in_time_is_cancelled_and_its_payment_voided(
    client: TestClient,
    store: dict[str, str],
    stripe_api: StripeDouble,
    runtime: Runtime,
    deliver: Any,
) -> None:
    order = awaiting(client, store)
    payment = pay(client, store, order).json()
    with runtime.db.unit_of_work() as session:
        session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(order["id"]))
            .values(pay_by=utcnow() - timedelta(minutes=1))
        )

    with runtime.db.unit_of_work() as session:
        cancelled = orders.cancel_unpaid(session)
    deliver()
    deliver()
    late = webhook(client, stripe_api.customer_pays(payment["reference"]))  # paid too late
    deliver()

    assert cancelled == 1
    after = get(client, store, f"/v1/orders/{order['id']}")
    assert after["status"] == "cancelled"
    assert after["history"][1]["reason"] == "not paid in time"
    assert level(client, store, "JAS-M", "store:utrecht")["allocated"] == 0
    voids = stripe_api.calls_to("/cancel")
    assert len(voids) == 1  # the open intent; the late authorisation finds it cancelled
    assert late.status_code == 200
    assert get(client, store, f"/v1/payments/{payment['id']}")["status"] == "cancelled"
    expired = pay(client, store, order)
    assert (expired.status_code, expired.json()["code"]) == (409, "order_status")


def test_a_second_authorisation_of_a_placed_order_is_voided(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble, deliver: Any
) -> None:
    order = awaiting(client, store)
    first = pay(client, store, order).json()
    second = pay(client, store, order).json()  # the customer opened two tabs

    webhook(client, stripe_api.customer_pays(first["reference"]))
    webhook(client, stripe_api.customer_pays(second["reference"]))
    deliver()

    assert get(client, store, f"/v1/orders/{order['id']}")["status"] == "placed"
    [void] = stripe_api.calls_to("/cancel")
    assert second["reference"] in void.path
    assert get(client, store, f"/v1/payments/{second['id']}")["status"] == "cancelled"
    assert get(client, store, f"/v1/payments/{first['id']}")["status"] == "authorised"


def test_cancelling_an_authorised_order_releases_the_money(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble, deliver: Any
) -> None:
    order, payment = paid(client, store, stripe_api)

    cancelled = client.post(f"/v1/orders/{order['id']}/cancel", json={}, headers=store)
    deliver()
    deliver()

    assert cancelled.status_code == 200
    assert len(stripe_api.calls_to("/cancel")) == 1
    assert get(client, store, f"/v1/payments/{payment['id']}")["status"] == "cancelled"


def test_the_provider_down_at_the_start_leaves_the_order_payable(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble
) -> None:
    order = awaiting(client, store)
    stripe_api.fail = 1

    down = pay(client, store, order)
    again = pay(client, store, order)

    assert (down.status_code, down.json()["code"]) == (502, "payment_provider_unavailable")
    [failed, started] = get(client, store, f"/v1/orders/{order['id']}/payments")
    assert (failed["status"], failed["reference"]) == ("failed", None)
    assert "Stripe is down" in failed["error"]
    assert again.status_code == 201
    assert started["status"] == "pending"


def test_a_capture_while_the_provider_is_down_is_retried_not_lost(
    client: TestClient,
    store: dict[str, str],
    stripe_api: StripeDouble,
    runtime: Runtime,
    deliver: Any,
) -> None:
    order, payment = paid(client, store, stripe_api)
    client.post(f"/v1/orders/{order['id']}/ship", json={}, headers=store)
    stripe_api.fail = 1

    deliver()  # OrderShipped -> the capture is requested
    deliver()  # the provider answers 500: the event stays pending
    still = get(client, store, f"/v1/payments/{payment['id']}")["status"]
    with runtime.db.unit_of_work() as session:  # the retry's backoff, passed
        session.execute(update(OutboxEvent).values(available_at=utcnow()))
    deliver()

    assert still == "authorised"
    captures = stripe_api.calls_to("/capture")
    assert len(captures) == 2
    assert {c.idempotency_key for c in captures} == {f"capture-{payment['id']}"}
    assert get(client, store, f"/v1/payments/{payment['id']}")["status"] == "captured"


def test_a_declined_capture_is_recorded_on_the_order_for_a_person_to_follow(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble, deliver: Any
) -> None:
    order, payment = paid(client, store, stripe_api)
    client.post(f"/v1/orders/{order['id']}/ship", json={}, headers=store)
    stripe_api.decline = "The authorisation expired"

    deliver()
    deliver()

    after = get(client, store, f"/v1/payments/{payment['id']}")
    assert after["status"] == "authorised"
    assert "expired" in after["error"]
    history = get(client, store, f"/v1/orders/{order['id']}")["history"]
    assert history[-1]["reason"].startswith("capture declined")
    assert len(stripe_api.calls_to("/capture")) == 1  # declined is not retried


def test_a_return_refunds_the_card_once_whichever_news_comes_first(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble, deliver: Any
) -> None:
    order, payment = paid(client, store, stripe_api, COLLECT_UTRECHT)
    ready = client.post(f"/v1/orders/{order['id']}/ready", json={}, headers=store)
    assert ready.json()["status"] == "ready_for_pickup"
    collected = client.post(
        f"/v1/orders/{order['id']}/collect",
        json={"pickup_code": order["pickup_code"]},
        headers=store,
    )
    assert collected.status_code == 200, collected.text
    deliver()
    deliver()

    # Stripe reports the refund (made in its dashboard, say) before naadloos hears its own.
    returned = client.post(
        f"/v1/orders/{order['id']}/returns",
        json={
            "location": "store:utrecht",
            "lines": [{"sku": "JAS-M", "qty": 1, "disposition": "restock"}],
            "refund": "original",
        },
        headers=store,
    )
    assert returned.status_code == 201, returned.text
    charge = {"id": "ch_1", "object": "charge", "payment_intent": payment["reference"]}
    webhook(client, event("charge.refunded", {**charge, "amount_refunded": 8995}))
    deliver()
    deliver()

    [refund] = stripe_api.calls_to("/v1/refunds")
    assert refund.params == {"payment_intent": payment["reference"], "amount": "8995"}
    after = get(client, store, f"/v1/payments/{payment['id']}")
    assert (after["captured"], after["refunded"]) == (2 * 8995, 8995)


def test_the_same_webhook_at_once_from_many_deliveries_counts_once(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble, runtime: Runtime
) -> None:
    order = awaiting(client, store)
    payment = pay(client, store, order).json()
    body, headers = signed(stripe_api.customer_pays(payment["reference"]))

    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: client.post(WEBHOOK, content=body, headers=headers), range(6))
        )

    assert [a.status_code for a in answers] == [200] * 6
    assert sum(a.json()["applied"] for a in answers) == 1
    after = get(client, store, f"/v1/orders/{order['id']}")
    assert [h["to_status"] for h in after["history"]] == ["awaiting_payment", "placed"]
    assert len(names(runtime, "OrderPlaced")) == 1


def test_a_wrong_provider_setting_stops_the_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NAADLOOS_STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("NAADLOOS_STRIPE_WEBHOOK_SECRET", raising=False)

    for value, says in (
        ("paypal", "unknown payment provider 'paypal'"),
        ("stripe", "api_key"),
        ("acme=naadloos.nowhere:Acme", "naadloos.nowhere"),
    ):
        with pytest.raises(ValueError, match="NAADLOOS_PAYMENT_PROVIDERS") as raised:
            build_runtime(settings.model_copy(update={"payment_providers": value}))
        assert says in str(raised.value)


def test_no_providers_means_no_online_payments(runtime: Runtime, store: dict[str, str]) -> None:
    bare = build_runtime(runtime.settings.model_copy(update={"payment_providers": ""}))
    try:
        with TestClient(create_app(runtime=bare, dispatch=False)) as shop:
            order = awaiting(shop, store)
            refused = pay(shop, store, order)
            hook = shop.post(WEBHOOK, content=b"{}")
    finally:
        asyncio.run(bare.close())

    assert refused.status_code == 422
    assert "NAADLOOS_PAYMENT_PROVIDERS" in refused.json()["errors"][0]["message"]
    assert hook.status_code == 404


def test_a_webhook_before_the_start_is_answered_keeps_the_reference(
    client: TestClient, store: dict[str, str], runtime: Runtime
) -> None:
    """The provider's webhook can overtake the answer to the start call: the payment learns
    its reference from the webhook, and the later answer moves nothing backwards."""
    order = awaiting(client, store)
    with runtime.db.unit_of_work() as session:
        payment, _ = payment_start._open(
            session, uuid.UUID(order["id"]), PaymentStart(provider="stripe"), key=None
        )
    early = Notification("evt_early", Outcome.AUTHORISED, "pi_early", payment.id, None, "x")

    with runtime.db.unit_of_work() as session:
        assert payments.apply(session, runtime.payments["stripe"], [early]) == 1
    with runtime.db.unit_of_work() as session:
        late = Started("pi_early", Outcome.PENDING, {"type": "stripe_client_secret"})
        after = payment_start._started(session, payment.id, late, by="test")

    assert (after.reference, after.status) == ("pi_early", "authorised")
    assert get(client, store, f"/v1/orders/{order['id']}")["status"] == "placed"


def test_a_refund_the_provider_cannot_make_is_left_to_a_person(
    client: TestClient, store: dict[str, str], stripe_api: StripeDouble, deliver: Any
) -> None:
    """The capture was declined (the goods left unpaid): a return refunded to the original
    method has nothing online to refund, and the order's history says so."""
    order, payment = paid(client, store, stripe_api)
    client.post(f"/v1/orders/{order['id']}/ship", json={}, headers=store)
    stripe_api.decline = "The authorisation expired"
    deliver()
    deliver()

    returned = client.post(
        f"/v1/orders/{order['id']}/returns",
        json={
            "location": "store:utrecht",
            "lines": [{"sku": "JAS-M", "qty": 1, "disposition": "restock"}],
            "refund": "original",
        },
        headers=store,
    )
    deliver()

    assert returned.status_code == 201, returned.text
    assert stripe_api.calls_to("/v1/refunds") == []
    history = get(client, store, f"/v1/orders/{order['id']}")["history"]
    assert history[-1]["reason"].startswith("8995 of the refund was not captured online")
    assert get(client, store, f"/v1/payments/{payment['id']}")["refunded"] == 0
