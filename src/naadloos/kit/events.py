"""Domain events: small, frozen, past-tense facts (`ChannelCreated`). `emit` records one in the
outbox in the caller's transaction, so the event exists exactly when the change does.

A transaction's events are written together just before it commits, in one INSERT of all their
rows (a request that changes a cart and two stock rows wrote three INSERTs, each a round trip
to PostgreSQL). A rollback drops them with the rest. An event emitted inside a savepoint is
written at once, so that the savepoint's rollback takes it (it is then ahead of events emitted
before the savepoint). `write_pending` writes them earlier, for a reader of the outbox in the
same transaction. On PostgreSQL a statement that writes rows of its own can take the pending
events along in a CTE (`take_pending`, `outbox_cte`): a round trip fewer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CTE, String, bindparam, cast, delete, event, insert, or_
from sqlalchemy.orm import Session

from naadloos.kit.db import table_of
from naadloos.kit.ids import new_id
from naadloos.kit.models import OutboxEvent
from naadloos.kit.prepared import insert_all
from naadloos.kit.rows import memo
from naadloos.kit.time import utcnow

EVENTS_WRITTEN = "naadloos.events_written"
_PENDING = "events_pending"  # the transaction's rows to write before its commit (kit.rows.memo)
OUTBOX = table_of(OutboxEvent)
_COLUMNS = ("event_id", "name", "payload", "occurred_at", "available_at", "attempts")
MOST_CARRIED = 8  # events a statement takes along (`take_pending`); more wait for the commit


class Event(BaseModel):
    """Base of every domain event. Subclasses are registered by class name, which is also the
    event's name on the wire (NATS subject `<prefix>.<Name>`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ in Event.registry:
            raise TypeError(f"two events are named {cls.__name__}")
        Event.registry[cls.__name__] = cls

    @classmethod
    def event_name(cls) -> str:
        return cls.__name__


@dataclass(frozen=True, slots=True)
class Envelope:
    """An event as delivered: its id (stable across redeliveries), name, time and payload."""

    event_id: uuid.UUID
    name: str
    occurred_at: datetime
    payload: dict[str, Any]

    def event(self) -> Event:
        """The typed event; raises KeyError for an event this process does not know."""
        return Event.registry[self.name].model_validate(self.payload)

    def as_json_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.event_id),
            "name": self.name,
            "occurred_at": self.occurred_at.isoformat(),
            "payload": self.payload,
        }


def emit(session: Session, event: Event) -> uuid.UUID:
    """Record `event` in the outbox as part of the session's transaction (written before it
    commits: see the module). Returns its id."""
    now = utcnow()
    event_id = new_id()
    row = {  # _COLUMNS
        "event_id": event_id,
        "name": event.event_name(),
        "payload": event.model_dump(mode="json"),
        "occurred_at": now,
        "available_at": now,
        "attempts": 0,
    }
    session.info[EVENTS_WRITTEN] = True
    if session.in_nested_transaction():  # its rollback must take the event with it
        insert_all(session, OUTBOX, [row])
    else:  # kept for the transaction: its end, however it ends, drops what is not written
        memo(session, _PENDING, list).append(row)
    return event_id


def write_pending(session: Session) -> None:
    """Write the events emitted in this transaction that are not in the outbox yet."""
    rows = memo(session, _PENDING, list)
    if rows:
        insert_all(session, OUTBOX, rows)
        rows.clear()


def take_pending(session: Session) -> dict[str, Any]:
    """Hand up to `MOST_CARRIED` of this transaction's pending events to a statement that will
    write them in a CTE: `outbox_cte(n)`, bound with the parameters returned (`ev_<column>_<n>`;
    empty when none are pending). The caller must execute that statement in this transaction:
    the events are no longer pending. Only on PostgreSQL (SQLite has no INSERT in a CTE), and
    not inside a savepoint, whose rollback would take with it events emitted before it."""
    if session.in_nested_transaction() or session.get_bind().dialect.name != "postgresql":
        return {}
    rows = memo(session, _PENDING, list)
    taken = rows[:MOST_CARRIED]
    del rows[:MOST_CARRIED]
    return {f"ev_{c}_{n}": row[c] for n, row in enumerate(taken) for c in _COLUMNS}


def carried(params: dict[str, Any]) -> int:
    """How many events `take_pending`'s parameters hold."""
    return len(params) // len(_COLUMNS)


@lru_cache(maxsize=MOST_CARRIED)
def outbox_cte(rows: int) -> CTE:
    """The INSERT of `rows` outbox rows as a CTE, for a statement that writes them with its
    own (`take_pending`). Its foreign keys and `seq` are those of any other INSERT."""
    values = [
        {c: bindparam(f"ev_{c}_{n}", type_=OUTBOX.c[c].type) for c in _COLUMNS} for n in range(rows)
    ]
    return insert(OUTBOX).values(values).cte(f"events_{rows}")


# Every session: the request's, a unit of work's, a job's.
event.listen(Session, "before_commit", write_pending)


def forget(session: Session, ids: list[str]) -> int:
    """Delete outbox events whose payload mentions any of `ids` (GDPR erasure: an erased
    person's id must not linger in the event history). Returns how many were deleted."""
    if not ids:
        return 0
    write_pending(session)  # this transaction's events mention them too
    text = cast(OutboxEvent.payload, String)
    result = session.execute(
        delete(OutboxEvent).where(or_(*(text.contains(i) for i in ids))),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
