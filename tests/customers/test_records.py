from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from naadloos.cli import app
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory

LOYALTY_CSV = Path(__file__).with_name("data") / "loyalty.csv"


@pytest.fixture
def cli(settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("NAADLOOS_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("NAADLOOS_NATS_URL", raising=False)
    return CliRunner()


@pytest.fixture
def store_channel(client: TestClient, admin: dict[str, str]) -> str:
    client.post(
        "/v1/channels",
        json={"code": "store:utrecht", "name": "Utrecht", "kind": "store"},
        headers=admin,
    )
    return "store:utrecht"


def test_an_import_keeps_the_good_rows_and_names_the_bad_lines(
    cli: CliRunner, tmp_path: Path, store_channel: str, client: TestClient, api_key: KeyFactory
) -> None:
    source = tmp_path / "loyalty.csv"
    source.write_text(LOYALTY_CSV.read_text())

    result = cli.invoke(app, ["customers", "import", str(source), "--channel", store_channel])

    assert result.exit_code == 0, result.output
    assert "2 imported, 0 unchanged, 3 bad rows skipped" in result.stdout
    assert "line 3: email: not an email address" in result.output
    assert "line 4: birth_date: '31-12-1990' is not YYYY-MM-DD" in result.output
    assert "line 5: external_id is empty" in result.output
    assert "ignoring unknown columns: favourite_colour" in result.output
    anna = client.get(
        "/v1/customers",
        params={"identifier": "loyalty_card:SC-1"},
        headers=api_key("customers:read"),
    ).json()
    assert anna["profile"]["traits"]["birth_date"] == "1988-04-02"
    assert anna["profile"]["channels"] == [store_channel]

    again = cli.invoke(app, ["customers", "import", str(source), "--channel", store_channel])

    assert "0 imported, 2 unchanged, 3 bad rows skipped" in again.stdout


def test_records_from_two_channels_meet_in_one_person_and_export_with_their_sources(
    cli: CliRunner, tmp_path: Path, store_channel: str
) -> None:
    store = tmp_path / "store.csv"
    store.write_text("external_id,first_name,email\nL-1,Anna,anna@ziggo.nl\n")
    web = tmp_path / "web.jsonl"
    web.write_text(
        json.dumps(
            {
                "external_id": 10042,
                "first_name": "Anna",
                "email": "ANNA@ziggo.nl",
                "city": "Utrecht",
            }
        )
        + "\n{oops\n"
    )
    cli.invoke(app, ["customers", "import", str(store), "--channel", store_channel])
    imported = cli.invoke(app, ["customers", "import", str(web), "--channel", "web"])
    assert "line 2: not JSON" in imported.output

    out = tmp_path / "export.jsonl"
    exported = cli.invoke(app, ["customers", "export", str(out)])

    assert exported.exit_code == 0, exported.output
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["traits"]["city"] == "Utrecht"
    assert {"type": "email", "value": "anna@ziggo.nl"} in line["identifiers"]
    assert sorted(line["sources"], key=lambda s: s["channel"]) == [
        {"channel": store_channel, "external_id": "L-1"},
        {"channel": "web", "external_id": "10042"},
    ]


def test_an_unknown_channel_or_a_file_without_external_id_is_refused(
    cli: CliRunner, tmp_path: Path
) -> None:
    source = tmp_path / "x.csv"
    source.write_text("external_id,first_name\nA,B\n")
    headless = tmp_path / "y.csv"
    headless.write_text("id,first_name\nA,B\n")

    unknown = cli.invoke(app, ["customers", "import", str(source), "--channel", "store:mars"])
    no_id = cli.invoke(app, ["customers", "import", str(headless), "--channel", "web"])

    assert unknown.exit_code == 2
    assert "store:mars" in unknown.output
    assert no_id.exit_code == 2
    assert "external_id" in no_id.output
