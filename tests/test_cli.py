from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from naadloos.api.app import create_app
from naadloos.channels import service
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import ChannelCreate
from naadloos.cli import app
from naadloos.kit.models import OutboxEvent
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime
from tests.conftest import KeyFactory

KEY = re.compile(r"nl_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def cli(settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("NAADLOOS_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("NAADLOOS_NATS_URL", raising=False)
    return CliRunner()


def test_a_store_is_added_as_a_channel_and_a_bound_key_works(
    cli: CliRunner, runtime: Runtime
) -> None:
    added = cli.invoke(app, ["channels", "add", "Den Haag Centrum"])
    assert added.exit_code == 0, added.output
    assert added.output.startswith("store:den-haag-centrum  store")

    created = cli.invoke(
        app,
        [
            "keys",
            "create",
            "--name",
            "till 1",
            "--scopes",
            "channels:read",
            "--channel",
            "store:den-haag-centrum",
        ],
    )
    assert created.exit_code == 0, created.output
    key = KEY.search(created.stdout)
    assert key is not None

    with TestClient(create_app(runtime=runtime, dispatch=False)) as client:
        response = client.get(
            "/v1/channels/store:den-haag-centrum",
            headers={"Authorization": f"Bearer {key.group()}"},
        )
    assert response.status_code == 200
    listed = cli.invoke(app, ["keys", "list"])
    assert "till 1" in listed.output
    assert key.group() not in listed.output  # the secret is shown once, never again


def test_bad_input_gets_a_clear_message_and_changes_nothing(cli: CliRunner) -> None:
    unknown_channel = cli.invoke(
        app, ["keys", "create", "--name", "x", "--scopes", "*", "--channel", "store:nowhere"]
    )
    bad_scope = cli.invoke(app, ["keys", "create", "--name", "x", "--scopes", "root"])
    bad_capability = cli.invoke(app, ["channels", "add", "Delft", "--capabilities", "fly"])
    duplicate = cli.invoke(app, ["channels", "add", "--kind", "web", "--code", "web", "Web"])

    assert unknown_channel.exit_code == 2
    assert "store:nowhere" in unknown_channel.output
    assert bad_scope.exit_code == 2
    assert "unknown scope 'root'" in bad_scope.output
    assert bad_capability.exit_code == 2
    assert "fly" in bad_capability.output
    assert duplicate.exit_code == 2
    assert "exists" in duplicate.output
    assert "nl_" not in cli.invoke(app, ["keys", "list"]).output  # no key was left behind


def test_a_revoked_key_is_listed_as_revoked(cli: CliRunner) -> None:
    created = cli.invoke(app, ["keys", "create", "--name", "old till", "--scopes", "track"])
    prefix = KEY.search(created.stdout).group()[3:15]  # type: ignore[union-attr]

    assert cli.invoke(app, ["keys", "revoke", prefix]).exit_code == 0
    assert f"{prefix}  revoked" in cli.invoke(app, ["keys", "list"]).output
    assert cli.invoke(app, ["keys", "revoke", "nope"]).exit_code == 2


def test_serve_refuses_a_database_that_is_not_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAADLOOS_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")

    result = CliRunner().invoke(app, ["serve"])

    assert result.exit_code == 2
    assert "naadloos db upgrade" in result.output


def test_an_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAADLOOS_DATABASE_URL", "oracle://scott@tiger/db")

    result = CliRunner().invoke(app, ["channels", "list"])

    assert result.exit_code == 2
    assert "NAADLOOS_DATABASE_URL" in result.output


def test_the_demo_loads_a_dutch_retailer_and_prints_a_working_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAADLOOS_NATS_URL", raising=False)

    result = CliRunner().invoke(app, ["demo", "--no-serve"])

    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000/docs" in result.output
    admin_key = KEY.search(result.output)
    assert admin_key is not None
    demo_db = Settings(database_url=f"sqlite:///{tmp_path / 'naadloos-demo.db'}")
    with TestClient(create_app(demo_db, dispatch=False)) as client:
        matrix = client.get(
            "/v1/channels/matrix", headers={"Authorization": f"Bearer {admin_key.group()}"}
        ).json()
    codes = {row["code"] for row in matrix["channels"]}
    assert {
        "store:amsterdam",
        "store:utrecht",
        "store:rotterdam",
        "web",
        "app",
        "instagram",
        "marketplace",
        "phone",
        "email",
        "whatsapp",
    } <= codes
    with TestClient(create_app(demo_db, dispatch=False)) as client:
        anna = client.get(
            "/v1/customers",
            params={"identifier": "loyalty_card:SC-2024-0042"},
            headers={"Authorization": f"Bearer {admin_key.group()}"},
        ).json()
    assert anna["profile"]["traits"]["first_name"] == "Anna"
    # The web, the Utrecht store, WhatsApp, and the app her click & collect order came from.
    assert anna["profile"]["channels"] == ["app", "store:utrecht", "web", "whatsapp"]
    assert set(matrix["by_capability"]["pickup"]) == {
        "store:amsterdam",
        "store:utrecht",
        "store:rotterdam",
    }
    till = re.search(r"till key\s+(nl_\S+)", result.output)
    assert till is not None
    with TestClient(create_app(demo_db, dispatch=False)) as client:
        scanned = client.get(
            "/v1/products/by-gtin/8712345678906",
            params={"channel": "store:amsterdam"},
            headers={"Authorization": f"Bearer {till.group(1)}"},
        ).json()
        exceptions = client.get(
            "/v1/prices/exceptions", headers={"Authorization": f"Bearer {admin_key.group()}"}
        ).json()
        found = [
            client.get(
                "/v1/search",
                params={"q": "regenjassen", **where},
                headers={"Authorization": f"Bearer {till.group(1)}"},
            ).json()
            for where in ({}, {"in_stock_at": "store:amsterdam"})
        ]
    assert [item["name"] for item in found[0]["items"]] == ["Regenjas Wadden"]
    assert found[1]["items"] == []  # the demo's Amsterdam store has none of it
    assert scanned["product"]["name"] == "Regenjas Wadden"
    assert scanned["availability"]["total"] > 0
    assert [(e["sku"], e["channel"]) for e in exceptions] == [("SNK-G-42", "marketplace")]
    with TestClient(create_app(demo_db, dispatch=False)) as client:
        annas = client.get(
            "/v1/orders",
            params={"customer": "loyalty_card:SC-2024-0042"},
            headers={"Authorization": f"Bearer {till.group(1)}"},
        ).json()["items"]
    assert sorted((o["fulfilment"], o["status"], o["channel"]) for o in annas) == [
        ("collect", "ready_for_pickup", "app"),  # waiting at the Amsterdam desk
        ("in_store", "completed", "store:utrecht"),  # the till's sale
    ]


def test_the_worker_delivers_what_is_pending_and_exits(cli: CliRunner, runtime: Runtime) -> None:
    with runtime.db.unit_of_work() as session:
        service.create_channel(
            session, ChannelCreate(code="store:delft", name="Delft", kind=ChannelKind.STORE)
        )

    result = cli.invoke(app, ["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "delivered 1 events" in result.output
    with runtime.db.unit_of_work(write=False) as session:
        assert session.scalars(select(OutboxEvent.delivered_at)).one() is not None


def test_the_search_index_is_rebuilt_from_the_command_line(
    cli: CliRunner, runtime: Runtime, api_key: KeyFactory
) -> None:
    key = api_key("catalog:write")
    with TestClient(create_app(runtime=runtime, dispatch=False)) as client:
        body = {"code": "P-1", "name": "Zwarte jas", "variants": [{"sku": "JAS-M"}]}
        assert client.post("/v1/products", json=body, headers=key).status_code == 201

        result = cli.invoke(app, ["catalog", "reindex"])

        assert result.exit_code == 0, result.output
        assert "1 products indexed" in result.output
        found = client.get("/v1/search", params={"q": "jassen"}, headers=key).json()
        assert [item["code"] for item in found["items"]] == ["P-1"]
