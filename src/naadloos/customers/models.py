from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from naadloos.kit.db import Base, UTCDateTime
from naadloos.kit.models import BigIntPK


class Person(Base):
    """One customer. Traits are kept with the time each was last set, so merging two profiles
    or applying an old event late gives the same result as replaying everything in order."""

    __tablename__ = "persons"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    traits: Mapped[dict[str, Any]] = mapped_column(JSON)
    trait_times: Mapped[dict[str, str]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("persons.id"), index=True
    )


class Identifier(Base):
    """An identifier value (email, phone, device id, ...) and the person it belongs to now.
    A shared identifier (a family email, a shop tablet) belongs to nobody: it links no one."""

    __tablename__ = "identifiers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("persons.id"), index=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    shared_reason: Mapped[str | None] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("type", "value"),)


class IdentityLink(Base):
    """Evidence that two identifiers belong to the same person: append-only. Unmerging sets
    `removed_at` on a link; nothing is ever deleted except by erasure."""

    __tablename__ = "identity_links"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    from_identifier_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("identifiers.id"), index=True
    )
    to_identifier_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("identifiers.id"), index=True
    )
    rule: Mapped[str] = mapped_column(String(50))
    channel: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(255))
    confidence: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_reason: Mapped[str | None] = mapped_column(String(200))


class CustomerEvent(Base):
    """Something a person did or was told in any channel: the timeline. `identifier_id` is the
    identifier the event came in under, so a split can send the event with it."""

    __tablename__ = "customer_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("persons.id"))
    identifier_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("identifiers.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(100))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON)
    traits: Mapped[dict[str, Any]] = mapped_column(JSON)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_customer_events_person_timeline", "person_id", "timestamp"),)


class Consent(Base):
    """A consent decision, append-only: the current consent for (person, channel, purpose) is
    the latest row. `identifier_id` is what it was given under, so it follows a split."""

    __tablename__ = "consents"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("persons.id"), index=True)
    identifier_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("identifiers.id"))
    channel: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Suppression(Base):
    """What an erased person left behind, hashed: identifiers and message ids that must not
    bring them back when old messages are replayed."""

    __tablename__ = "suppressions"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MatchKey(Base):
    """Blocking keys of a person: candidates for matching share at least one."""

    __tablename__ = "match_keys"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("persons.id"), primary_key=True, index=True
    )


class MatchSuggestion(Base):
    """Two persons who may be one, for a person to decide (between the review and the automatic
    threshold). A rejected pair is never suggested again."""

    __tablename__ = "match_suggestions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    person_a: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("persons.id"), index=True)
    person_b: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("persons.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    levels: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("person_a", "person_b"),)
