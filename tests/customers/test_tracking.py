from __future__ import annotations

import gzip
import json
import threading
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.conftest import KeyFactory
from tests.customers.conftest import customer


def test_a_web_visitor_who_logs_in_is_one_person_with_one_timeline(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(
        "/v1/page",
        json={"anonymousId": "dev-1", "name": "Home", "messageId": "m1"},
        headers=tracker,
    )
    client.post(
        "/v1/track",
        json={
            "anonymousId": "dev-1",
            "event": "Product Viewed",
            "properties": {"sku": "JEANS-32"},
            "messageId": "m2",
        },
        headers=tracker,
    )
    client.post(
        "/v1/identify",
        json={
            "anonymousId": "dev-1",
            "userId": "cust-7",
            "traits": {"email": "Anna@Ziggo.NL", "first_name": "Anna"},
            "messageId": "m3",
        },
        headers=tracker,
    )

    by_email = customer(client, reader, "email:anna@ziggo.nl")
    by_device = customer(client, reader, "anonymous_id:dev-1")

    assert by_email["profile"]["id"] == by_device["profile"]["id"]
    assert by_email["profile"]["traits"]["first_name"] == "Anna"
    assert {(i["type"], i["value"]) for i in by_email["identifiers"]} == {
        ("anonymous_id", "dev-1"),
        ("user_id", "cust-7"),
        ("email", "anna@ziggo.nl"),
    }
    assert [e["name"] for e in by_email["timeline"]][::-1] == ["Home", "Product Viewed", None]


def test_two_devices_merge_when_the_same_account_logs_in_on_both(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    client.post("/v1/page", json={"anonymousId": "phone-1", "name": "App home"}, headers=tracker)
    client.post("/v1/page", json={"anonymousId": "laptop-1", "name": "Web home"}, headers=tracker)
    phone = customer(client, reader, "anonymous_id:phone-1")["profile"]["id"]
    laptop = customer(client, reader, "anonymous_id:laptop-1")["profile"]["id"]
    assert phone != laptop

    client.post("/v1/identify", json={"anonymousId": "phone-1", "userId": "u-9"}, headers=tracker)
    client.post("/v1/identify", json={"anonymousId": "laptop-1", "userId": "u-9"}, headers=tracker)

    person = customer(client, reader, "user_id:u-9")
    assert person["profile"]["id"] == phone  # the older profile survives
    merged = client.get(f"/v1/customers/{laptop}/360", headers=reader).json()
    assert merged["profile"]["id"] == phone
    assert merged["resolved_from"] == laptop
    assert {e["name"] for e in person["timeline"]} >= {"App home", "Web home"}
    explanation = client.get(f"/v1/customers/{phone}/explain", headers=reader).json()
    assert laptop in explanation["merged_from"]
    pairs = {(link["from_identifier"], link["to_identifier"]) for link in explanation["links"]}
    assert ("user_id:u-9", "anonymous_id:laptop-1") in pairs


def test_a_shared_device_never_joins_two_accounts(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(
        "/v1/identify", json={"anonymousId": "family-ipad", "userId": "mum"}, headers=tracker
    )
    client.post(
        "/v1/identify", json={"anonymousId": "family-ipad", "userId": "son"}, headers=tracker
    )

    mum = customer(client, reader, "user_id:mum")
    son = customer(client, reader, "user_id:son")

    assert mum["profile"]["id"] != son["profile"]["id"]
    assert "family-ipad" not in {i["value"] for i in mum["identifiers"] + son["identifiers"]}
    ipad = customer(client, reader, "anonymous_id:family-ipad")  # a profile of the device itself
    assert ipad["identifiers"][0]["shared"] is True
    assert ipad["profile"]["traits"] == {"shared_identifier": "anonymous_id"}

    # Browsing on the iPad without logging in is filed under the device, not under mum or son.
    client.post("/v1/page", json={"anonymousId": "family-ipad", "name": "Sale"}, headers=tracker)
    assert customer(client, reader, "anonymous_id:family-ipad")["timeline"][0]["name"] == "Sale"
    assert "Sale" not in {e["name"] for e in customer(client, reader, "user_id:mum")["timeline"]}


def test_different_loyalty_cards_are_never_merged(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(
        "/v1/identify",
        json={"userId": "a", "traits": {"email": "home@fam.nl", "loyalty_card": "L-1"}},
        headers=tracker,
    )
    client.post(
        "/v1/identify", json={"userId": "b", "traits": {"loyalty_card": "L-2"}}, headers=tracker
    )

    # A message that claims user a uses card L-2 does not make them one person.
    client.post(
        "/v1/identify", json={"userId": "a", "traits": {"loyalty_card": "L-2"}}, headers=tracker
    )

    a = customer(client, reader, "user_id:a")
    b = customer(client, reader, "user_id:b")
    assert a["profile"]["id"] != b["profile"]["id"]
    assert customer(client, reader, "loyalty_card:L2")["profile"]["id"] == b["profile"]["id"]


def test_a_weak_identifier_never_joins_two_accounts_read_from_earlier_requests(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    # Given two accounts, each seen in a request of its own
    client.post(
        "/v1/identify",
        json={"anonymousId": "d-1", "userId": "u-1", "traits": {"email": "sam@fam.nl"}},
        headers=tracker,
    )
    client.post("/v1/identify", json={"anonymousId": "d-2", "userId": "u-2"}, headers=tracker)

    # When a message without any account id joins the second's device to the first's email
    client.post(
        "/v1/identify",
        json={"anonymousId": "d-2", "traits": {"email": "sam@fam.nl"}},
        headers=tracker,
    )

    # Then they stay two persons, and the device is marked shared
    one = customer(client, reader, "user_id:u-1")["profile"]["id"]
    two = customer(client, reader, "user_id:u-2")["profile"]["id"]
    assert one != two
    device = customer(client, reader, "anonymous_id:d-2")
    assert device["identifiers"][0]["shared"] is True
    assert device["profile"]["id"] not in (one, two)


def test_first_and_last_seen_follow_the_event_times_in_whatever_order_they_arrive(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    def page(day: int) -> dict[str, str]:
        return {"type": "page", "anonymousId": "v-1", "timestamp": f"2026-03-0{day}T10:00:00Z"}

    # Given a visitor seen on 3 March
    client.post("/v1/batch", json={"batch": [page(3)]}, headers=tracker)
    # When messages of 5 and 1 March come in one batch (an app that was offline), then 2 March
    client.post("/v1/batch", json={"batch": [page(5), page(1)]}, headers=tracker)
    client.post("/v1/batch", json={"batch": [page(2)]}, headers=tracker)

    # Then the profile says when the visitor was first and last seen, not when we heard of it
    profile = customer(client, reader, "anonymous_id:v-1")["profile"]
    assert profile["first_seen_at"].startswith("2026-03-01T10:00:00")
    assert profile["last_seen_at"].startswith("2026-03-05T10:00:00")


def test_a_retried_message_is_recorded_once(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    message = {"userId": "u1", "event": "Order Completed", "messageId": "order-1"}

    first = client.post("/v1/track", json=message, headers=tracker).json()
    again = client.post("/v1/track", json=message, headers=tracker).json()

    assert (first["accepted"], first["duplicates"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert len(customer(client, reader, "user_id:u1")["timeline"]) == 1


def test_client_clock_skew_is_corrected(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    """A device whose clock runs an hour fast: the event happened 10 s before it was sent."""
    now = datetime.now(UTC)
    fast = now + timedelta(hours=1)
    client.post(
        "/v1/batch",
        json={
            "batch": [
                {
                    "type": "track",
                    "userId": "skewed",
                    "event": "Clicked",
                    "timestamp": (fast - timedelta(seconds=10)).isoformat(),
                }
            ],
            "sentAt": fast.isoformat(),
        },
        headers=tracker,
    )

    event = customer(client, reader, "user_id:skewed")["timeline"][0]
    happened = datetime.fromisoformat(event["timestamp"])
    assert abs((now - timedelta(seconds=10) - happened).total_seconds()) < 5


def test_a_batch_keeps_the_good_messages_and_reports_the_bad(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    batch = [
        {"type": "track", "userId": "good", "event": "A"},
        {"type": "track", "userId": "good"},  # no event name
        {"type": "identify", "traits": {"email": "x@y.nl"}},  # no id
        {"type": "shout", "userId": "good"},
        {"type": "track", "userId": "good", "event": "B", "properties": {"pad": "x" * 33_000}},
        {"type": "track", "anonymousId": "undefined", "event": "C"},  # blocked id only
        {"type": "track", "userId": "good", "event": "D", "context": {"channel": "nowhere"}},
    ]

    response = client.post("/v1/batch", json={"batch": batch}, headers=tracker)

    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 1
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [
        (1, "validation_failed"),
        (2, "validation_failed"),
        (3, "validation_failed"),
        (4, "message_too_large"),
        (5, "no_identifier"),
        (6, "unknown_channel"),
    ]
    assert "event name" in result["rejected"][0]["detail"]
    assert [e["name"] for e in customer(client, reader, "user_id:good")["timeline"]] == ["A"]


def test_a_batch_of_only_bad_messages_is_refused(
    client: TestClient, tracker: dict[str, str]
) -> None:
    response = client.post("/v1/batch", json={"batch": [{"type": "track"}]}, headers=tracker)

    assert response.status_code == 422
    assert response.json()["code"] == "batch_rejected"
    assert response.json()["rejected"][0]["index"] == 0


def test_size_limits_are_a_clear_400(client: TestClient, tracker: dict[str, str]) -> None:
    big = {"userId": "u", "event": "x", "properties": {"pad": "x" * 40_000}}
    huge = {
        "batch": [
            {"type": "track", "userId": "u", "event": "x", "properties": {"pad": "x" * 20_000}}
        ]
        * 30
    }

    single = client.post("/v1/track", json=big, headers=tracker)
    batch = client.post("/v1/batch", json=huge, headers=tracker)

    assert single.status_code == batch.status_code == 400
    assert single.json()["code"] == batch.json()["code"] == "payload_too_large"


def test_gzip_bodies_are_accepted(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    body = gzip.compress(
        json.dumps(
            {"batch": [{"type": "identify", "userId": "zip", "traits": {"city": "Utrecht"}}]}
        ).encode()
    )

    response = client.post(
        "/v1/batch",
        content=body,
        headers={**tracker, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert customer(client, reader, "user_id:zip")["profile"]["traits"] == {"city": "Utrecht"}


def test_a_till_key_stamps_its_channel(
    client: TestClient, api_key: KeyFactory, admin: dict[str, str], reader: dict[str, str]
) -> None:
    client.post(
        "/v1/channels",
        json={"code": "store:utrecht", "name": "Utrecht", "kind": "store"},
        headers=admin,
    )
    till = api_key("track", channel="store:utrecht")

    client.post(
        "/v1/track",
        json={
            "userId": "shopper",
            "event": "Order Completed",
            "traits": {},
            "context": {"traits": {"loyalty_card": "L-77"}},
        },
        headers=till,
    )

    person = customer(client, reader, "loyalty_card:L77")
    assert person["timeline"][0]["channel"] == "store:utrecht"
    assert person["profile"]["channels"] == ["store:utrecht"]


def test_traits_follow_their_merge_rules(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def identify(traits: dict[str, object], days: int) -> None:
        client.post(
            "/v1/identify",
            json={
                "userId": "r",
                "traits": traits,
                "timestamp": (t0 + timedelta(days=days)).isoformat(),
            },
            headers=tracker,
        )

    identify({"city": "Utrecht", "first_channel": "web", "nickname": "Jo"}, 0)
    identify({"city": "Delft", "first_channel": "store", "nickname": ""}, 2)
    identify({"city": "Gouda"}, 1)  # arrives late: older than the Delft update

    traits = customer(client, reader, "user_id:r")["profile"]["traits"]
    assert traits == {"city": "Delft", "first_channel": "web", "nickname": "Jo"}


def test_the_customers_api_needs_its_scope(
    client: TestClient, tracker: dict[str, str], api_key: KeyFactory
) -> None:
    client.post("/v1/identify", json={"userId": "s"}, headers=tracker)

    assert (
        client.get("/v1/customers", params={"identifier": "user_id:s"}, headers=tracker).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/track", json={"userId": "s", "event": "x"}, headers=api_key("customers:read")
        ).status_code
        == 403
    )
    bad = client.get("/v1/customers", params={"identifier": "email"}, headers=api_key("*"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "identifier"


def test_the_timeline_pages_newest_first(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    base = datetime(2026, 5, 1, tzinfo=UTC)
    batch = [
        {
            "type": "track",
            "userId": "p",
            "event": f"E{i}",
            "timestamp": (base + timedelta(minutes=i)).isoformat(),
        }
        for i in range(7)
    ]
    client.post("/v1/batch", json={"batch": batch}, headers=tracker)
    person = customer(client, reader, "user_id:p")["profile"]["id"]

    names: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/customers/{person}/timeline", params=params, headers=reader).json()
        names += [e["name"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert names == [f"E{i}" for i in reversed(range(7))]


def test_concurrent_batches_that_meet_the_same_new_identifiers_all_succeed(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    """Eight tills send at once, each batch naming the same new devices and customers."""
    start = threading.Barrier(8)
    statuses: list[int] = []

    def send(till: int) -> None:
        batch = [
            {
                "type": "identify",
                "anonymousId": f"fresh-dev-{i}",
                "userId": f"cust-{i}",
                "messageId": f"till-{till}-{i}",
            }
            for i in range(20)
        ]
        start.wait()
        statuses.append(
            client.post("/v1/batch", json={"batch": batch}, headers=tracker).status_code
        )

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses == [200] * 8
    for i in range(20):
        person = customer(client, reader, f"anonymous_id:fresh-dev-{i}")
        assert {x["value"] for x in person["identifiers"]} == {f"fresh-dev-{i}", f"cust-{i}"}
        assert len(person["timeline"]) == 8


def test_a_number_that_joins_too_many_people_becomes_shared(
    client: TestClient, tracker: dict[str, str], reader: dict[str, str]
) -> None:
    """The till types the shop's own phone number for every walk-in customer."""
    for n in range(6):
        client.post(
            "/v1/page", json={"anonymousId": f"walk-in-{n}", "name": "Shop"}, headers=tracker
        )
        client.post(
            "/v1/identify",
            json={"anonymousId": f"walk-in-{n}", "traits": {"phone": "030 123 4567"}},
            headers=tracker,
        )

    people = {
        customer(client, reader, f"anonymous_id:walk-in-{n}")["profile"]["id"] for n in range(6)
    }
    shop_phone = customer(client, reader, "phone:+31301234567")

    # Three merges are allowed within the window; then the number links no one any more.
    assert len(people) == 3
    assert shop_phone["identifiers"][0]["shared"] is True
    assert shop_phone["profile"]["id"] not in people
