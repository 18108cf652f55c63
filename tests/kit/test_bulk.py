from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, text

from naadloos.kit.bulk import insert_rows, lookup, present, update_rows
from naadloos.kit.ids import new_id
from naadloos.kit.models import ApiKey
from naadloos.runtime import Runtime


def key_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": new_id(),
        "prefix": new_id().hex[:12],
        "secret_hash": b"\x00" * 32,
        "name": "bulk",
        "scopes": ["channels:read", "track"],
        "channel": None,
        "created_at": datetime(2026, 3, 1, 13, 30, 5, 120, tzinfo=timezone(timedelta(hours=1))),
        "revoked_at": None,
    }
    row.update(overrides)
    return row


def test_bulk_rows_read_back_exactly_as_orm_rows(runtime: Runtime) -> None:
    bulk = key_row(prefix="bulk00000001")
    with runtime.db.unit_of_work() as session:
        insert_rows(session, ApiKey, [bulk])
        session.add(ApiKey(**key_row(prefix="orm000000001")))

    with runtime.db.unit_of_work(write=False) as session:
        stored = session.scalars(select(ApiKey).where(ApiKey.prefix == "bulk00000001")).one()
        raw = session.execute(text("SELECT created_at, scopes FROM api_keys ORDER BY prefix")).all()
    assert stored.id == bulk["id"]
    assert stored.scopes == ["channels:read", "track"]
    assert stored.created_at == datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=UTC)
    assert raw[0] == raw[1]  # byte for byte what the ORM stores


def test_bulk_updates_change_only_the_given_columns(runtime: Runtime) -> None:
    first, second = key_row(prefix="a00000000001"), key_row(prefix="b00000000001")
    with runtime.db.unit_of_work() as session:
        insert_rows(session, ApiKey, [first, second])
        later = datetime(2026, 4, 1, tzinfo=UTC)
        update_rows(session, ApiKey, "id", [{"revoked_at": later, "id": first["id"]}])

    with runtime.db.unit_of_work(write=False) as session:
        rows = {k.prefix: k for k in session.scalars(select(ApiKey))}
    assert rows["a00000000001"].revoked_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert rows["a00000000001"].name == "bulk"
    assert rows["b00000000001"].revoked_at is None


def test_lookup_reads_rows_by_many_keys_as_the_orm_reads_them(runtime: Runtime) -> None:
    # Given 600 keys, more than one statement's worth
    rows = [key_row(prefix=f"k{i:011d}", name="even" if i % 2 == 0 else "odd") for i in range(600)]
    with runtime.db.unit_of_work() as session:
        insert_rows(session, ApiKey, rows)

    with runtime.db.unit_of_work(write=False) as session:
        # When they are looked up by id, with ids that match nothing among them
        wanted = [(r["id"],) for r in rows] + [(new_id(),)]
        by_id = lookup(session, [ApiKey.id, ApiKey.created_at, ApiKey.scopes], [ApiKey.id], wanted)
        # and by a pair of columns, with a fixed condition
        pairs = lookup(
            session,
            [ApiKey.prefix],
            [ApiKey.name, ApiKey.prefix],
            [("even", "k00000000000"), ("even", "k00000000001"), ("odd", "k00000000001")],
            where='"channel" IS NULL',
        )
        seen = present(session, ApiKey.prefix, ["k00000000007", "nothing"])

    # Then every row comes back once, typed as the ORM types it
    assert len(by_id) == 600
    first = next(r for r in by_id if r[0] == rows[0]["id"])
    assert first[1] == datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=UTC)
    assert first[2] == ["channels:read", "track"]
    assert sorted(p for (p,) in pairs) == ["k00000000000", "k00000000001"]
    assert seen == {"k00000000007"}
    assert lookup(session, [ApiKey.id], [ApiKey.id], []) == []
