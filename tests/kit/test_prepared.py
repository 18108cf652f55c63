from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from naadloos.inventory.models import StockLevel
from naadloos.kit.db import table_of
from naadloos.kit.models import OutboxEvent
from naadloos.kit.prepared import ROWS_A_STATEMENT, Prepared, insert_all
from naadloos.runtime import Runtime

OUTBOX = table_of(OutboxEvent)
COLUMNS = ("event_id", "name", "payload", "occurred_at", "available_at", "attempts")
INSERT = Prepared(insert(OUTBOX), columns=COLUMNS)
READ = Prepared(
    select(OUTBOX.c.event_id, OUTBOX.c.payload, OUTBOX.c.occurred_at, OUTBOX.c.attempts)
    .where(OUTBOX.c.name == bindparam("name"))
    .order_by(OUTBOX.c.attempts)
)


def event(name: str, *, attempts: int = 0, at: datetime | None = None) -> dict[str, object]:
    when = at or datetime.now(UTC)
    return {
        "event_id": uuid.uuid4(),
        "name": name,
        "payload": {"sku": "TEE-M", "note": "café", "n": [1, 2]},
        "occurred_at": when,
        "available_at": when,
        "attempts": attempts,
    }


def test_values_come_back_as_sqlalchemy_reads_them(runtime: Runtime) -> None:
    """UUIDs, UTC timestamps and JSON go in and come out exactly as through the ORM's own
    statements, on either database."""
    amsterdam = timezone(timedelta(hours=1))
    row = event("Seen", at=datetime(2026, 3, 1, 13, 30, 15, 123456, tzinfo=amsterdam))
    with runtime.db.unit_of_work() as session:
        INSERT.run(session, row)
    with runtime.db.unit_of_work(write=False) as session:
        prepared = READ.rows(session, {"name": "Seen"})
        ours = session.execute(
            select(
                OUTBOX.c.event_id, OUTBOX.c.payload, OUTBOX.c.occurred_at, OUTBOX.c.attempts
            ).where(OUTBOX.c.name == "Seen")
        ).all()
    assert prepared == [tuple(r) for r in ours]
    assert prepared == [
        (
            row["event_id"],
            {"sku": "TEE-M", "note": "café", "n": [1, 2]},
            datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
            0,
        )
    ]


def test_insert_all_writes_many_rows_in_statements_of_many_rows(runtime: Runtime) -> None:
    rows = [event("Many", attempts=n) for n in range(ROWS_A_STATEMENT + 6)]  # two statements
    with runtime.db.unit_of_work() as session:
        insert_all(session, OUTBOX, rows)
        insert_all(session, OUTBOX, [event("One", attempts=99)])
    with runtime.db.unit_of_work(write=False) as session:
        read = READ.rows(session, {"name": "Many"})
        one = READ.rows(session, {"name": "One"})
    assert [(r[0], r[1], r[3]) for r in read] == [
        (r["event_id"], r["payload"], r["attempts"]) for r in rows
    ]
    assert read[0][2] == rows[0]["occurred_at"]
    assert [r[3] for r in one] == [99]


def test_runs_in_the_sessions_transaction(runtime: Runtime) -> None:
    seen = []

    def failing_request() -> None:
        with runtime.db.unit_of_work() as session:
            INSERT.run_many(session, [event("Undone", attempts=n) for n in range(3)])
            seen.extend(READ.rows(session, {"name": "Undone"}))  # inside the transaction
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    assert len(seen) == 3
    with runtime.db.unit_of_work(write=False) as session:
        assert READ.rows(session, {"name": "Undone"}) == []


def test_literal_values_and_returning(runtime: Runtime) -> None:
    """Values written into the statement itself (not given per call) are bound too."""
    bump = Prepared(
        update(OUTBOX)
        .where(OUTBOX.c.name == "Bumped", OUTBOX.c.attempts < bindparam("below"))
        .values(attempts=OUTBOX.c.attempts + 1)
        .returning(OUTBOX.c.event_id, OUTBOX.c.attempts)
    )
    rows = [event("Bumped", attempts=n) for n in range(3)]
    with runtime.db.unit_of_work() as session:
        INSERT.run_many(session, rows)
        changed = bump.rows(session, {"below": 2})
    assert sorted(changed, key=lambda r: r[1]) == [
        (rows[0]["event_id"], 1),
        (rows[1]["event_id"], 2),
    ]
    with runtime.db.unit_of_work() as session:
        assert bump.first(session, {"below": 0}) is None
        assert bump.run(session, {"below": 3}) == 3


def test_a_constraint_violation_is_sqlalchemys_integrity_error(runtime: Runtime) -> None:
    row = event("Once")
    with runtime.db.unit_of_work() as session:
        INSERT.run(session, row)
    with pytest.raises(IntegrityError), runtime.db.unit_of_work() as session:
        INSERT.run(session, {**row, "name": "Twice"})
    with runtime.db.unit_of_work(write=False) as session:
        assert READ.rows(session, {"name": "Twice"}) == []
        assert len(READ.rows(session, {"name": "Once"})) == 1


def test_statements_it_cannot_run_are_refused_when_first_used(runtime: Runtime) -> None:
    expanding = Prepared(select(OUTBOX.c.name).where(OUTBOX.c.name.in_(["a", "b"])))
    # `on_hand` and the other figures have Python-side defaults, which only SQLAlchemy's own
    # execution fills in: leaving them out would write NULLs, so it is refused.
    defaults = Prepared(insert(table_of(StockLevel)), columns=("sku", "location_id", "updated_at"))
    with runtime.db.unit_of_work(write=False) as session:
        with pytest.raises(ValueError, match="expanding"):
            expanding.rows(session, {})
        with pytest.raises(ValueError, match="give every column"):
            defaults.run(session, {"sku": "TEE-M", "location_id": 1, "updated_at": None})


def test_a_lost_connection_is_not_handed_out_again(runtime: Runtime) -> None:
    """The server ends the connection (a restart, a failover): the statement raises as
    SQLAlchemy raises a lost connection, and the next unit of work gets a working one."""
    if runtime.db.dialect != "postgresql":
        pytest.skip("a server that drops connections is PostgreSQL's")

    def write_on_a_dropped_connection() -> None:
        with runtime.db.unit_of_work() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with runtime.db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            INSERT.run(session, event("Lost"))

    with pytest.raises(DBAPIError) as raised:
        write_on_a_dropped_connection()
    assert raised.value.connection_invalidated
    with runtime.db.unit_of_work() as session:
        INSERT.run(session, event("Found"))
    with runtime.db.unit_of_work(write=False) as session:
        assert len(READ.rows(session, {"name": "Found"})) == 1
