"""Unmerge: remove a link of the identity graph. If the person's identifiers are no longer
connected without it, each part that lost its way becomes a person of its own, taking the
events filed under its identifiers, the consents given under them, and traits recomputed from
its own identify events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from naadloos.customers.events import ProfileSplit
from naadloos.customers.identifiers import POLICIES, IdentifierType
from naadloos.customers.models import Consent, CustomerEvent, Identifier, IdentityLink, Person
from naadloos.customers.service import traits as trait_rules
from naadloos.kit.bulk import insert_rows
from naadloos.kit.db import table_of
from naadloos.kit.errors import Conflict, NotFound
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.time import utcnow


class LinkNotFound(NotFound):
    code = "link_not_found"
    title = "Link not found"


def _components(
    nodes: list[uuid.UUID], edges: list[tuple[uuid.UUID, uuid.UUID]]
) -> list[set[uuid.UUID]]:
    parent = {n: n for n in nodes}

    def root(n: uuid.UUID) -> uuid.UUID:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        if a in parent and b in parent:
            parent[root(a)] = root(b)
    groups: dict[uuid.UUID, set[uuid.UUID]] = {}
    for n in nodes:
        groups.setdefault(root(n), set()).add(n)
    return list(groups.values())


def remove_link(session: Session, seq: int, reason: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Remove link `seq`; returns the person and the persons split off it (maybe none)."""
    link = session.get(IdentityLink, seq)
    if link is None:
        raise LinkNotFound(f"no identity link {seq}", field="seq")
    if link.removed_at is not None:
        raise Conflict(f"link {seq} was removed already", field="seq")
    now = utcnow()
    link.removed_at, link.removed_reason = now, reason
    session.flush()
    owner = session.get(Identifier, link.from_identifier_id)
    if owner is None or owner.person_id is None:  # pragma: no cover - guarded by foreign keys
        raise LinkNotFound(f"identity link {seq} names no person")
    person_id = owner.person_id
    members = list(
        session.execute(
            select(Identifier.id, Identifier.type).where(
                Identifier.person_id == person_id, Identifier.shared.is_(False)
            )
        )
    )
    ids = [m.id for m in members]
    edges = [
        (row.from_identifier_id, row.to_identifier_id)
        for row in session.execute(
            select(IdentityLink.from_identifier_id, IdentityLink.to_identifier_id).where(
                IdentityLink.removed_at.is_(None), IdentityLink.from_identifier_id.in_(ids)
            )
        )
    ]
    parts = _components(ids, edges)
    if len(parts) == 1:
        emit(session, ProfileSplit(person_id=str(person_id), new_person_ids=[], link_seq=seq))
        return person_id, []
    # The part with the best identifier (highest priority) keeps the person.
    rank = {m.id: POLICIES[IdentifierType(m.type)].priority for m in members}
    parts.sort(key=lambda part: -max(rank[i] for i in part))
    new_ids: list[uuid.UUID] = []
    for part in parts[1:]:
        pid = new_id()
        new_ids.append(pid)
        insert_rows(session, Person, [_empty_person(pid, now)])
        for model, column in (
            (Identifier, Identifier.id),
            (CustomerEvent, CustomerEvent.identifier_id),
            (Consent, Consent.identifier_id),
        ):
            session.execute(
                update(table_of(model)).where(column.in_(list(part))).values(person_id=pid)
            )
    for pid in (person_id, *new_ids):
        _recompute(session, pid, now)
    emit(
        session,
        ProfileSplit(
            person_id=str(person_id), new_person_ids=[str(p) for p in new_ids], link_seq=seq
        ),
    )
    return person_id, new_ids


def _empty_person(pid: uuid.UUID, now: datetime) -> dict[str, Any]:
    return {
        "id": pid,
        "created_at": now,
        "updated_at": now,
        "first_seen_at": None,
        "last_seen_at": None,
        "traits": {},
        "trait_times": {},
        "channels": [],
        "merged_into_id": None,
    }


def _recompute(session: Session, person_id: uuid.UUID, now: datetime) -> None:
    """A person's profile from its own events: traits folded with their rules, when seen,
    where seen."""
    traits: dict[str, Any] = {}
    times: dict[str, str] = {}
    first: datetime | None = None
    last: datetime | None = None
    channels: set[str] = set()
    for event in session.execute(
        select(
            CustomerEvent.type, CustomerEvent.traits, CustomerEvent.timestamp, CustomerEvent.channel
        )
        .where(CustomerEvent.person_id == person_id)
        .order_by(CustomerEvent.timestamp)
    ):
        if event.type == "identify" and event.traits:
            trait_rules.apply(traits, times, event.traits, event.timestamp)
        first = event.timestamp if first is None else min(first, event.timestamp)
        last = event.timestamp if last is None else max(last, event.timestamp)
        if event.channel:
            channels.add(event.channel)
    session.execute(
        update(table_of(Person))
        .where(Person.id == person_id)
        .values(
            traits=traits,
            trait_times=times,
            first_seen_at=first,
            last_seen_at=last,
            channels=sorted(channels),
            updated_at=now,
        )
    )
