from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import event, insert, select

from naadloos.kit.db import table_of
from naadloos.kit.models import OutboxEvent
from naadloos.kit.rows import adopt, memo
from naadloos.runtime import Runtime


def outbox_row(name: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "seq": None,
        "event_id": uuid.uuid4(),
        "name": name,
        "payload": {"n": 1},
        "occurred_at": now,
        "attempts": 0,
        "available_at": now,
        "claimed_until": None,
        "delivered_at": None,
        "last_error": None,
    }


def written(runtime: Runtime, name: str) -> dict[str, object]:
    row = outbox_row(name)
    with runtime.db.unit_of_work() as session:
        values = {k: v for k, v in row.items() if k != "seq"}
        row["seq"] = session.execute(
            insert(table_of(OutboxEvent)).values(values).returning(OutboxEvent.seq)
        ).scalar_one()
    return row


def test_an_adopted_row_is_the_sessions_object_without_a_select(runtime: Runtime) -> None:
    row = written(runtime, "Adopted")
    statements: list[str] = []
    event.listen(runtime.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    with runtime.db.unit_of_work() as session:
        adopted = adopt(session, OutboxEvent, row)
        assert session.get(OutboxEvent, row["seq"]) is adopted
        assert (adopted.name, adopted.payload, adopted.event_id) == ("Adopted", {"n": 1},
                                                                     row["event_id"])  # fmt: skip
        assert statements == []  # neither adopting nor the get read anything
        adopted.attempts = 3  # a change of it is written as of any loaded object

    with runtime.db.unit_of_work(write=False) as session:
        assert session.get(OutboxEvent, row["seq"]).attempts == 3  # type: ignore[union-attr]


def test_adopting_a_row_the_session_holds_refreshes_that_object(runtime: Runtime) -> None:
    row = written(runtime, "Before")
    with runtime.db.unit_of_work() as session:
        held = session.scalars(select(OutboxEvent)).one()

        adopted = adopt(session, OutboxEvent, {**row, "name": "After", "attempts": 2})

        assert adopted is held
        assert (held.name, held.attempts) == ("After", 2)
        assert not session.dirty  # loaded state, not a change to write


def test_a_memo_lives_as_long_as_the_transaction(runtime: Runtime) -> None:
    session = runtime.db.session(write=True)
    try:
        memo(session, "codes")[1] = "store:utrecht"
        assert memo(session, "codes") == {1: "store:utrecht"}
        assert memo(session, "other") == {}
        session.rollback()
        assert memo(session, "codes") == {}
        memo(session, "codes")[2] = "dc:tilburg"
        session.commit()
        assert memo(session, "codes") == {}
    finally:
        session.close()
