"""Merging two persons into one: everything of the merged person moves to the survivor, the
link that joined them is recorded with its evidence, and `ProfilesMerged` is emitted. Used by
the identity graph (a message joins two persons), matching (automatic or reviewed) alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from naadloos.customers.events import ProfilesMerged
from naadloos.customers.models import (
    Consent,
    CustomerEvent,
    Identifier,
    IdentityLink,
    MatchKey,
    MatchSuggestion,
    Person,
)
from naadloos.customers.service import consent
from naadloos.customers.service import traits as trait_rules
from naadloos.kit.bulk import insert_rows
from naadloos.kit.db import table_of
from naadloos.kit.events import emit


@dataclass(frozen=True)
class Evidence:
    """Why two identifiers are one person: the rule, where and in which message, when, and how
    sure (1.0 for a message that names both)."""

    rule: str
    channel: str | None
    message_id: str | None
    at: datetime
    confidence: float = 1.0


def link_row(a: uuid.UUID, b: uuid.UUID, evidence: Evidence) -> dict[str, Any]:
    return {
        "from_identifier_id": a,
        "to_identifier_id": b,
        "rule": evidence.rule,
        "channel": evidence.channel,
        "message_id": evidence.message_id,
        "confidence": evidence.confidence,
        "created_at": evidence.at,
    }


def merge_persons(
    session: Session,
    *,
    survivor: uuid.UUID,
    merged: uuid.UUID,
    via_identifier: uuid.UUID,
    bridge_identifier: uuid.UUID,
    evidence: Evidence,
) -> None:
    """Move everything of `merged` to `survivor`: identifiers, events, consents (the most
    restrictive kept), traits by their rules; record the link that joined them; emit."""
    consents = {
        pid: {key: row.status for key, row in consent.current(session, pid).items()}
        for pid in (survivor, merged)
    }
    for model in (Identifier, CustomerEvent, Consent):
        session.execute(
            update(table_of(model)).where(model.person_id == merged).values(person_id=survivor)
        )
    session.execute(
        update(table_of(Person))
        .where(Person.merged_into_id == merged)
        .values(merged_into_id=survivor)
    )
    both = select(table_of(Person)).where(Person.id.in_([survivor, merged]))
    rows = {p.id: p for p in session.execute(both)}
    keep, gone = rows[survivor], rows[merged]
    traits, times = trait_rules.combine(
        (keep.traits, keep.trait_times), (gone.traits, gone.trait_times)
    )
    seen = [t for t in (keep.first_seen_at, gone.first_seen_at) if t is not None]
    last = [t for t in (keep.last_seen_at, gone.last_seen_at) if t is not None]
    session.execute(
        update(table_of(Person))
        .where(Person.id == survivor)
        .values(
            traits=traits,
            trait_times=times,
            channels=sorted(set(keep.channels) | set(gone.channels)),
            first_seen_at=min(seen) if seen else None,
            last_seen_at=max(last) if last else None,
            updated_at=evidence.at,
        )
    )
    session.execute(
        update(table_of(Person))
        .where(Person.id == merged)
        .values(merged_into_id=survivor, traits={}, trait_times={}, channels=[])
    )
    consent.keep_most_restrictive(
        session, survivor, consents[survivor], consents[merged], evidence.at
    )
    # The merged person is matched no more; what was suggested about it is moot.
    session.execute(
        delete(MatchKey).where(MatchKey.person_id == merged),
        execution_options={"synchronize_session": False},
    )
    for column in (MatchSuggestion.person_a, MatchSuggestion.person_b):
        session.execute(
            update(table_of(MatchSuggestion))
            .where(column == merged, MatchSuggestion.status == "pending")
            .values(status="superseded", decided_at=evidence.at)
        )
    # What joined the two components is the link, with its evidence.
    insert_rows(session, IdentityLink, [link_row(via_identifier, bridge_identifier, evidence)])
    emit(
        session,
        ProfilesMerged(
            person_id=str(survivor),
            merged_id=str(merged),
            rule=evidence.rule,
            bridge_identifier_id=str(bridge_identifier),
        ),
    )
