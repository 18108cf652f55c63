"""Matching persons who share no identifier (see `customers.matching` for the scoring).

`refresh` runs online inside the request or job that changed a person's name, birth date,
address, email or phone: it updates the person's blocking keys, scores the candidates that share
a key, merges above the automatic threshold (never across different strong identifiers, never
without agreeing first names: the household guard) and leaves a suggestion for review between
the thresholds. `naadloos customers rematch` runs it over everyone."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from naadloos.customers import matching
from naadloos.customers.identifiers import POLICIES, STRONG_TYPES, IdentifierType
from naadloos.customers.models import Identifier, MatchKey, MatchSuggestion, Person
from naadloos.customers.service.merge import Evidence, merge_persons
from naadloos.kit.bulk import insert_rows, lookup
from naadloos.kit.db import insert_or_nothing
from naadloos.kit.errors import Conflict, NotFound
from naadloos.kit.ids import new_id

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
MATCH_TRAITS = frozenset(
    {
        "first_name",
        "last_name",
        "birth_date",
        "postcode",
        "street",
        "house_number",
        "city",
        "email",
        "phone",
    }
)
MAX_CANDIDATES_PER_KEY = 50


class SuggestionNotFound(NotFound):
    code = "suggestion_not_found"
    title = "Suggestion not found"


@dataclass(frozen=True)
class Thresholds:
    """Match weights in bits of evidence; `NAADLOOS_MATCH_*` configure them (ADR 0006)."""

    auto: float = 18.0
    review: float = 9.0


@dataclass
class _Person:
    id: uuid.UUID
    created_at: datetime
    features: matching.Features
    strong: dict[str, str]
    best_identifier: uuid.UUID | None


@dataclass
class Outcome:
    merged: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # (survivor, merged)
    suggested: int = 0


def _load(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, _Person]:
    persons = {
        pid: (created, traits)
        for pid, created, traits in lookup(
            session,
            [Person.id, Person.created_at, Person.traits],
            [Person.id],
            [(p,) for p in set(ids)],
            where='"merged_into_id" IS NULL',
        )
    }
    emails: dict[uuid.UUID, set[str]] = {p: set() for p in persons}
    phones: dict[uuid.UUID, set[str]] = {p: set() for p in persons}
    strong: dict[uuid.UUID, dict[str, str]] = {p: {} for p in persons}
    best: dict[uuid.UUID, tuple[int, uuid.UUID]] = {}
    for iid, owner, type_, value in lookup(
        session,
        [Identifier.id, Identifier.person_id, Identifier.type, Identifier.value],
        [Identifier.person_id],
        [(p,) for p in persons],
        where='"shared" = false',
    ):
        kind = IdentifierType(type_)
        if kind is IdentifierType.EMAIL:
            emails[owner].add(value)
        elif kind in (IdentifierType.PHONE, IdentifierType.WHATSAPP):
            phones[owner].add(value)
        if kind in STRONG_TYPES:
            strong[owner][kind.value] = value
        rank = POLICIES[kind].priority
        if owner not in best or rank > best[owner][0]:
            best[owner] = (rank, iid)
    return {
        pid: _Person(
            id=pid,
            created_at=created,
            features=matching.Features.of(traits or {}, emails[pid], phones[pid]),
            strong=strong[pid],
            best_identifier=best[pid][1] if pid in best else None,
        )
        for pid, (created, traits) in persons.items()
    }


def _conflict(a: _Person, b: _Person) -> bool:
    return any(t in b.strong and b.strong[t] != v for t, v in a.strong.items())


def _keys(session: Session, people: dict[uuid.UUID, _Person]) -> dict[uuid.UUID, set[str]]:
    keys = {
        pid: p.features.blocking_keys() if p.features.matchable() else set()
        for pid, p in people.items()
    }
    session.execute(
        delete(MatchKey).where(MatchKey.person_id.in_(list(people))),
        execution_options={"synchronize_session": False},
    )
    insert_rows(
        session,
        MatchKey,
        [{"key": k, "person_id": pid} for pid, ks in keys.items() for k in ks],
        ignore_conflicts=True,  # a concurrent refresh of the same person wrote them already
    )
    return keys


def refresh(
    session: Session,
    person_ids: Iterable[uuid.UUID],
    *,
    thresholds: Thresholds,
    at: datetime,
    channel: str | None = None,
) -> Outcome:
    """Re-key and re-match these persons against everyone who shares a blocking key."""
    outcome = Outcome()
    people = _load(session, person_ids)
    if not people:
        return outcome
    keys = _keys(session, people)
    wanted = sorted({k for ks in keys.values() for k in ks})
    sharing: dict[str, list[uuid.UUID]] = {}
    for key, pid in lookup(
        session, [MatchKey.key, MatchKey.person_id], [MatchKey.key], [(k,) for k in wanted]
    ):
        sharing.setdefault(key, []).append(pid)
    candidates = {c for k in wanted for c in sharing.get(k, [])[:MAX_CANDIDATES_PER_KEY]}
    known = {**_load(session, candidates - set(people)), **people}
    decided = _decided_pairs(session, list(known))
    merged_into: dict[uuid.UUID, uuid.UUID] = {}
    for pid in people:
        for other in sorted({c for k in keys[pid] for c in sharing.get(k, [])} - {pid}):
            a_id, b_id = merged_into.get(pid, pid), merged_into.get(other, other)
            if a_id == b_id or a_id not in known or b_id not in known:
                continue
            pair = (min(a_id, b_id), max(a_id, b_id))
            if pair in decided:
                continue
            a, b = known[a_id], known[b_id]
            if _conflict(a, b):
                continue
            levels = matching.compare(a.features, b.features)
            weight = matching.score(levels)
            if weight >= thresholds.auto and matching.same_individual(levels):
                survivor, gone = (a, b) if a.created_at <= b.created_at else (b, a)
                _merge(
                    session,
                    survivor,
                    gone,
                    weight=weight,
                    rule="match:auto",
                    channel=channel,
                    at=at,
                )
                outcome.merged.append((survivor.id, gone.id))
                merged_into[gone.id] = survivor.id
                for old, new in list(merged_into.items()):
                    if new == gone.id:
                        merged_into[old] = survivor.id
                known[survivor.id] = _load(session, [survivor.id])[survivor.id]
                decided.add(pair)
            elif weight >= thresholds.review:
                created = insert_or_nothing(
                    session,
                    MatchSuggestion,
                    {
                        "id": new_id(),
                        "person_a": pair[0],
                        "person_b": pair[1],
                        "score": weight,
                        "levels": levels,
                        "status": PENDING,
                        "created_at": at,
                    },
                    MatchSuggestion.id,
                )
                outcome.suggested += created is not None
                decided.add(pair)
    return outcome


def _decided_pairs(session: Session, ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    if not ids:
        return set()
    # Pending pairs are looked at again (the thresholds may have changed); decided ones never.
    rows = lookup(
        session,
        [MatchSuggestion.person_a, MatchSuggestion.person_b],
        [MatchSuggestion.person_a],
        [(i,) for i in ids],
        where=f"\"status\" != '{PENDING}'",
    )
    return {(a, b) for a, b in rows}


def _merge(
    session: Session,
    survivor: _Person,
    gone: _Person,
    *,
    weight: float,
    rule: str,
    channel: str | None,
    at: datetime,
) -> None:
    if survivor.best_identifier is None or gone.best_identifier is None:
        raise Conflict("a person without identifiers cannot be merged")
    confidence = 1 - 2 ** (-weight) if weight > 0 else 0.0
    merge_persons(
        session,
        survivor=survivor.id,
        merged=gone.id,
        via_identifier=survivor.best_identifier,
        bridge_identifier=gone.best_identifier,
        evidence=Evidence(rule, channel, None, at, confidence),
    )


def decide(
    session: Session, suggestion_id: uuid.UUID, *, accept: bool, by: str, at: datetime
) -> MatchSuggestion:
    """Accept (merge the two persons) or reject (never suggest them again) a suggestion."""
    suggestion = session.get(MatchSuggestion, suggestion_id)
    if suggestion is None:
        raise SuggestionNotFound(f"no suggestion {suggestion_id}", field="id")
    if suggestion.status != PENDING:
        raise Conflict(f"the suggestion was {suggestion.status} already", field="id")
    if accept:
        people = _load(session, [suggestion.person_a, suggestion.person_b])
        if len(people) < 2:
            raise Conflict("one of the two persons was merged or erased meanwhile")
        a, b = people[suggestion.person_a], people[suggestion.person_b]
        if _conflict(a, b):
            raise Conflict("the two persons hold different strong identifiers")
        survivor, gone = (a, b) if a.created_at <= b.created_at else (b, a)
        suggestion.status, suggestion.decided_at, suggestion.decided_by = ACCEPTED, at, by
        session.flush()
        _merge(
            session,
            survivor,
            gone,
            weight=suggestion.score,
            rule="match:reviewed",
            channel=None,
            at=at,
        )
    else:
        suggestion.status, suggestion.decided_at, suggestion.decided_by = REJECTED, at, by
        session.flush()
    return suggestion


def pending(session: Session, limit: int, after: uuid.UUID | None) -> list[MatchSuggestion]:
    stmt = select(MatchSuggestion).where(MatchSuggestion.status == PENDING)
    if after is not None:
        stmt = stmt.where(MatchSuggestion.id > after)
    return list(session.scalars(stmt.order_by(MatchSuggestion.id).limit(limit)))
