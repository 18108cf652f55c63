"""Domain events: small, frozen, past-tense facts (`ChannelCreated`). `emit` writes one into the
outbox in the caller's transaction, so the event exists exactly when the change does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, cast, delete, insert, or_
from sqlalchemy.orm import Session

from naadloos.kit.db import table_of
from naadloos.kit.ids import new_id
from naadloos.kit.models import OutboxEvent
from naadloos.kit.prepared import Prepared
from naadloos.kit.time import utcnow

EVENTS_WRITTEN = "naadloos.events_written"


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


_INSERT = Prepared(
    insert(table_of(OutboxEvent)),
    columns=("event_id", "name", "payload", "occurred_at", "available_at", "attempts"),
)


def emit(session: Session, event: Event) -> uuid.UUID:
    """Record `event` in the outbox as part of the session's transaction. Returns its id."""
    now = utcnow()
    event_id = new_id()
    _INSERT.run(
        session,
        {
            "event_id": event_id,
            "name": event.event_name(),
            "payload": event.model_dump(mode="json"),
            "occurred_at": now,
            "available_at": now,
            "attempts": 0,
        },
    )
    session.info[EVENTS_WRITTEN] = True
    return event_id


def forget(session: Session, ids: list[str]) -> int:
    """Delete outbox events whose payload mentions any of `ids` (GDPR erasure: an erased
    person's id must not linger in the event history). Returns how many were deleted."""
    if not ids:
        return 0
    text = cast(OutboxEvent.payload, String)
    result = session.execute(
        delete(OutboxEvent).where(or_(*(text.contains(i) for i in ids))),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
