from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from naadloos.cli import app
from naadloos.customers import matching
from naadloos.kit.settings import Settings


def features(**traits: str) -> matching.Features:
    return matching.Features.of(traits, set(), set())


def test_names_are_compared_as_people_write_them() -> None:
    a = features(first_name="Kees", last_name="van der Berg", birth_date="1971-03-04")
    b = features(first_name="Cornelis", last_name="Berg", birth_date="1971-04-03")

    levels = matching.compare(a, b)

    assert levels["first_name"] == matching.EXACT  # a nickname
    assert levels["last_name"] == matching.EXACT  # particles do not count
    assert levels["birth_date"] == matching.CLOSE  # day and month swapped
    assert matching.features_missing(levels) == ["location", "email", "phone"]


@pytest.mark.parametrize(
    ("one", "other", "field", "level"),
    [
        ("Hnek", "Hendrik", "first_name", matching.CLOSE),  # a misspelt nickname
        ("Sannne", "Sanne", "first_name", matching.CLOSE),  # a slip in a nickname
        ("Iirs", "Iris", "first_name", matching.CLOSE),  # two letters swapped
        ("Maria", "Thijs", "first_name", matching.DIFFERENT),
        ("Eva", "Iris", "first_name", matching.DIFFERENT),  # short names need more than a slip
        ("van denHeuvel", "van den Heuvel", "last_name", matching.EXACT),
        ("vn der Veen", "van der Veen", "last_name", matching.CLOSE),
        ("van liet", "van Vliet", "last_name", matching.CLOSE),
        ("van Dijk", "van Dam", "last_name", matching.DIFFERENT),
    ],
)
def test_spelling_slips_in_names_are_close(one: str, other: str, field: str, level: int) -> None:
    a = features(**{field: one})
    b = features(**{field: other})

    assert matching.compare(a, b)[field] == level


def test_a_household_is_not_one_person() -> None:
    home = {
        "last_name": "Jansen",
        "street": "Kerkstraat",
        "house_number": "12",
        "postcode": "3511 AB",
        "city": "Utrecht",
    }
    mother = features(first_name="Maria", birth_date="1970-01-01", **home)
    son = features(first_name="Thijs", birth_date="2001-06-30", **home)

    levels = matching.compare(mother, son)

    assert not matching.same_individual(levels)
    assert matching.score(levels) < 9


def identify(client: TestClient, key: dict[str, str], user: str, **traits: str) -> None:
    response = client.post(
        "/v1/identify", json={"anonymousId": user, "traits": traits}, headers=key
    )
    assert response.status_code == 200, response.text


def person(client: TestClient, key: dict[str, str], device: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        "/v1/customers", params={"identifier": f"anonymous_id:{device}"}, headers=key
    ).json()
    return body


def test_a_store_form_and_a_web_account_without_a_shared_identifier_become_one_person(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    identify(
        client,
        tracker,
        "store-form-1",
        first_name="Kees",
        last_name="van der Berg",
        birth_date="1971-03-04",
        postcode="3511 AB",
        city="Utrecht",
    )
    identify(
        client,
        tracker,
        "web-account-1",
        first_name="Cornelis",
        last_name="Berg",
        birth_date="1971-03-04",
        postcode="3512 CD",
        city="Utrecht",
        email="c.berg@ziggo.nl",
    )

    store, web = person(client, writer, "store-form-1"), person(client, writer, "web-account-1")

    assert store["profile"]["id"] == web["profile"]["id"]
    links = client.get(f"/v1/customers/{web['profile']['id']}/explain", headers=writer).json()
    rules = {link["rule"] for link in links["links"]}
    assert "match:auto" in rules
    confidence = next(lk["confidence"] for lk in links["links"] if lk["rule"] == "match:auto")
    assert confidence > 0.999


def test_a_household_stays_apart_and_is_not_suggested(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    home = {
        "last_name": "Jansen",
        "street": "Kerkstraat",
        "house_number": "12",
        "postcode": "3511 AB",
        "city": "Utrecht",
    }
    identify(client, tracker, "mum", first_name="Maria", birth_date="1970-01-01", **home)
    identify(client, tracker, "son", first_name="Thijs", birth_date="2001-06-30", **home)

    assert (
        person(client, writer, "mum")["profile"]["id"]
        != person(client, writer, "son")["profile"]["id"]
    )
    assert client.get("/v1/identity/suggestions", headers=writer).json()["items"] == []


def test_a_doubtful_pair_is_suggested_and_a_person_decides(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    # Same name, no birth date on one side, moved house: evidence, but not enough to merge.
    identify(
        client,
        tracker,
        "old-card",
        first_name="Elisabeth",
        last_name="de Wit",
        postcode="8051 VV",
        city="Zwolle",
    )
    identify(
        client,
        tracker,
        "new-app",
        first_name="Liesbeth",
        last_name="de Wit",
        birth_date="1961-10-24",
        postcode="2611 BG",
        city="Delft",
    )
    assert (
        person(client, writer, "old-card")["profile"]["id"]
        != person(client, writer, "new-app")["profile"]["id"]
    )

    [suggestion] = client.get("/v1/identity/suggestions", headers=writer).json()["items"]
    assert 9 <= suggestion["score"] < 18
    assert {p["traits"]["city"] for p in suggestion["persons"]} == {"Zwolle", "Delft"}

    accepted = client.post(f"/v1/identity/suggestions/{suggestion['id']}/accept", headers=writer)

    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert (
        person(client, writer, "old-card")["profile"]["id"]
        == person(client, writer, "new-app")["profile"]["id"]
    )
    again = client.post(f"/v1/identity/suggestions/{suggestion['id']}/reject", headers=writer)
    assert again.status_code == 409


def test_a_rejected_pair_is_never_suggested_again(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    identify(client, tracker, "a1", first_name="Bram", last_name="de Boer", postcode="2611 BG")
    identify(client, tracker, "a2", first_name="Bram", last_name="de Boer", city="Gouda")
    [suggestion] = client.get("/v1/identity/suggestions", headers=writer).json()["items"]
    client.post(f"/v1/identity/suggestions/{suggestion['id']}/reject", headers=writer)

    identify(
        client, tracker, "a2", first_name="Bram", last_name="de Boer", city="Gouda", street="Markt"
    )

    assert client.get("/v1/identity/suggestions", headers=writer).json()["items"] == []


def test_different_loyalty_cards_are_never_matched(
    client: TestClient, tracker: dict[str, str], writer: dict[str, str]
) -> None:
    same = {
        "first_name": "Jan",
        "last_name": "de Jong",
        "birth_date": "1980-05-05",
        "postcode": "3511 AB",
    }
    identify(client, tracker, "card-1", loyalty_card="NL-1", **same)
    identify(client, tracker, "card-2", loyalty_card="NL-2", **same)

    assert (
        person(client, writer, "card-1")["profile"]["id"]
        != person(client, writer, "card-2")["profile"]["id"]
    )


@pytest.mark.usefixtures("runtime")
def test_rematch_applies_new_thresholds_to_everyone(
    client: TestClient,
    tracker: dict[str, str],
    writer: dict[str, str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identify(client, tracker, "r1", first_name="Bram", last_name="de Boer", postcode="2611 BG")
    identify(client, tracker, "r2", first_name="Bram", last_name="de Boer", city="Gouda")
    [suggestion] = client.get("/v1/identity/suggestions", headers=writer).json()["items"]
    monkeypatch.setenv("NAADLOOS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("NAADLOOS_MATCH_AUTO_MERGE_WEIGHT", str(suggestion["score"] - 1))
    monkeypatch.delenv("NAADLOOS_NATS_URL", raising=False)

    result = CliRunner().invoke(app, ["customers", "rematch"])

    assert result.exit_code == 0, result.output
    assert "1 merged" in result.stdout
    assert (
        person(client, writer, "r1")["profile"]["id"]
        == person(client, writer, "r2")["profile"]["id"]
    )


def test_birth_dates_that_are_not_dates_are_ignored() -> None:
    assert matching.birth_date("31-12-1990") is None
    assert matching.birth_date("1990-12-31") == date(1990, 12, 31)
