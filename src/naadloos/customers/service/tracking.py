"""Ingestion of tracking messages (the Segment spec), batch-first: a batch costs a handful of
queries whatever its size. Good messages are kept, bad ones reported with their index;
duplicates (by messageId) are accepted and ignored, so a client's retry changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.customers.identifiers import (
    IdentifierRef,
)
from naadloos.customers.models import CustomerEvent, Identifier
from naadloos.customers.schemas import RejectedMessage, TrackingMessage, TrackingResult
from naadloos.customers.service import intake, match, privacy, profiles
from naadloos.customers.service.fold import Touch, fold_new, update_profiles
from naadloos.customers.service.graph import Resolver, lock_identifiers
from naadloos.customers.service.merge import Evidence
from naadloos.kit.bulk import insert_rows, present
from naadloos.kit.db import insert_or_nothing
from naadloos.kit.errors import NotFound
from naadloos.kit.ids import new_id
from naadloos.kit.time import utcnow

DEFAULT_THRESHOLDS = match.Thresholds()


def _drop_duplicates(session: Session, batch: intake.Batch) -> None:
    seen: set[str] = present(
        session, CustomerEvent.message_id, [a.message_id for a in batch.accepted]
    )
    fresh: list[intake.Accepted] = []
    for item in batch.accepted:
        if item.message_id in seen:
            batch.duplicates += 1
            continue
        seen.add(item.message_id)
        fresh.append(item)
    batch.accepted = fresh


def _drop_erased(session: Session, batch: intake.Batch) -> None:
    """Messages of an erased person (replayed) are refused; identifiers of an erased person
    are not taken up again."""
    if not batch.accepted or not privacy.any_suppressions(session):
        return
    wanted = [privacy.digest(privacy.MESSAGE, a.message_id) for a in batch.accepted]
    wanted += [privacy.identifier_digest(r) for a in batch.accepted for r in a.refs]
    gone = privacy.suppressed(session, wanted)
    if not gone:
        return
    kept: list[intake.Accepted] = []
    for item in batch.accepted:
        item.refs = [r for r in item.refs if privacy.identifier_digest(r) not in gone]
        if privacy.digest(privacy.MESSAGE, item.message_id) in gone or not item.refs:
            batch.rejected.append(
                RejectedMessage(
                    index=item.index,
                    messageId=item.message_id,
                    code="erased",
                    detail="this message belongs to a customer who was erased",
                )
            )
            continue
        kept.append(item)
    batch.accepted = kept


def ingest(
    session: Session,
    raw_messages: Sequence[dict[str, Any]],
    *,
    received_at: datetime,
    key_channel: str | None = None,
    default_type: str | None = None,
    batch_sent_at: datetime | None = None,
    body_bytes: int | None = None,
    thresholds: match.Thresholds = DEFAULT_THRESHOLDS,
) -> TrackingResult:
    """Record tracking messages: identity resolved, events on the timeline, profiles updated."""
    batch = intake.check(
        session,
        raw_messages,
        default_type=default_type,
        key_channel=key_channel,
        batch_sent_at=batch_sent_at,
        received_at=received_at,
        # No message can be over the limit when the whole body is not.
        check_sizes=body_bytes is None or body_bytes > intake.MAX_MESSAGE_BYTES,
    )
    _drop_duplicates(session, batch)
    _drop_erased(session, batch)
    if batch.accepted:
        _record(session, batch.accepted, received_at, thresholds)
    return TrackingResult(
        accepted=len(batch.accepted),
        duplicates=batch.duplicates,
        rejected=sorted(batch.rejected, key=lambda r: r.index),
    )


def ingest_records(
    session: Session,
    records: Sequence[tuple[int, str, dict[str, Any], list[IdentifierRef]]],
    *,
    channel: str,
    received_at: datetime,
    thresholds: match.Thresholds = DEFAULT_THRESHOLDS,
) -> TrackingResult:
    """Record identify messages made from customer records (index, message id, traits,
    identifiers): the same graph, dedupe and erasure rules as tracking messages."""
    batch = intake.Batch()
    for index, message_id, traits, refs in records:
        message = TrackingMessage.model_construct(
            type="identify", messageId=message_id, traits=traits, properties={}, context={}
        )
        batch.accepted.append(
            intake.Accepted(index, message, message_id, refs, received_at, channel)
        )
    _drop_duplicates(session, batch)
    _drop_erased(session, batch)
    if batch.accepted:
        _record(session, batch.accepted, received_at, thresholds)
    return TrackingResult(
        accepted=len(batch.accepted), duplicates=batch.duplicates, rejected=batch.rejected
    )


def _record(
    session: Session,
    accepted: list[intake.Accepted],
    received_at: datetime,
    thresholds: match.Thresholds,
) -> None:
    refs = [ref for item in accepted for ref in item.refs]
    lock_identifiers(session, refs)
    resolver = Resolver(session)
    resolver.prefetch(item.refs for item in accepted)
    events: list[dict[str, Any]] = []
    touched: dict[uuid.UUID, Touch] = {}
    for item in accepted:
        message = item.message
        rule = "alias" if message.type == "alias" else "same_message"
        resolution = resolver.resolve(
            item.refs, Evidence(rule, item.channel, item.message_id, received_at)
        )
        events.append(
            {
                "id": new_id(),
                "message_id": item.message_id,
                "person_id": resolution.person_id,
                "identifier_id": resolution.identifier_id,
                "type": message.type,
                "name": message.event or message.name,
                "channel": item.channel,
                "properties": message.properties,
                "traits": message.traits,
                "context": message.context,
                "timestamp": item.timestamp,
                "received_at": received_at,
            }
        )
        touch = touched.setdefault(resolution.person_id, Touch(item.timestamp, item.timestamp))
        touch.first = min(touch.first, item.timestamp)
        touch.last = max(touch.last, item.timestamp)
        if item.channel:
            touch.channels.add(item.channel)
        if message.type == "identify" and message.traits:
            touch.traits.append((message.traits, item.timestamp))
    # A merge later in the batch may have moved earlier events' persons: file them right.
    current = resolver.current_person
    for row in events:
        row["person_id"] = current(row["person_id"])
    merged: dict[uuid.UUID, Touch] = {}
    for pid, touch in touched.items():
        target = merged.setdefault(current(pid), Touch(touch.first, touch.last))
        target.first, target.last = min(target.first, touch.first), max(target.last, touch.last)
        target.channels |= touch.channels
        target.traits += touch.traits
    # Persons made by this batch get their profile before they are written; others are updated.
    # Persons whose name, birth date, address, email or phone changed are matched online, and
    # so are the survivors of merges (they hold more than before).
    to_match = resolver.survivors()
    for pid, row in resolver.pending_persons.items():
        if pid in merged:
            fold_new(row, merged.pop(pid), received_at)
            if match.MATCH_TRAITS.intersection(row["traits"]):
                to_match.add(pid)
    resolver.flush()
    insert_rows(session, CustomerEvent, events)
    if merged:
        to_match |= update_profiles(session, merged, received_at)
    if to_match:
        match.refresh(session, to_match, thresholds=thresholds, at=received_at)


def record_activity(
    session: Session,
    person_id: uuid.UUID,
    *,
    name: str,
    channel: str | None,
    properties: dict[str, Any],
    message_id: str,
    at: datetime,
) -> bool:
    """Put what another module saw the person do (an order placed, collected) on their
    timeline and in their profile's facts (last seen, channels used), once per `message_id`.
    The entry is filed under the person's most recently seen identifier, so a split takes it
    along. False when it was recorded before, or the person is gone (erased)."""
    try:
        person = profiles.get_person(session, person_id)
    except NotFound:
        return False
    identifier_id = session.scalar(
        select(Identifier.id)
        .where(Identifier.person_id == person.id)
        .order_by(Identifier.last_seen_at.desc(), Identifier.id)
        .limit(1)
    )
    if identifier_id is None:
        return False
    now = utcnow()
    row = {
        "id": new_id(),
        "message_id": message_id,
        "person_id": person.id,
        "identifier_id": identifier_id,
        "type": "track",
        "name": name,
        "channel": channel,
        "properties": properties,
        "traits": {},
        "context": {"source": "naadloos"},
        "timestamp": at,
        "received_at": now,
    }
    # Once per message id, also when two deliveries of one event race (DESIGN rule 4).
    if insert_or_nothing(session, CustomerEvent, row, CustomerEvent.id) is None:
        return False
    touch = Touch(at, at, channels={channel} if channel else set())
    update_profiles(session, {person.id: touch}, now)
    return True
