"""Reading a person: the 360, the timeline, the explanation of the identity graph, lookup by
identifier. A merged person's old id keeps resolving to the person it was merged into."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from naadloos.customers.identifiers import InvalidIdentifier, parse_ref
from naadloos.customers.models import Consent, CustomerEvent, Identifier, IdentityLink, Person
from naadloos.customers.schemas import (
    ConsentOut,
    Customer360,
    Explanation,
    IdentifierOut,
    LinkOut,
    Profile,
    TimelineEntry,
)
from naadloos.customers.service import consent
from naadloos.kit.errors import NotFound, ValidationFailed

TIMELINE_IN_360 = 20


class PersonNotFound(NotFound):
    code = "customer_not_found"
    title = "Customer not found"


def get_person(session: Session, person_id: uuid.UUID) -> Person:
    """The person, following a merge to the person it now is."""
    person = session.get(Person, person_id)
    if person is not None and person.merged_into_id is not None:
        person = session.get(Person, person.merged_into_id)
    if person is None:
        raise PersonNotFound(f"no customer with id {person_id}", field="id")
    return person


def find_by_identifier(session: Session, identifier: str) -> Person:
    """`email:jan@example.nl`, `phone:0612345678`, `loyalty_card:NL-123` ... -> the person."""
    type_, sep, raw = identifier.partition(":")
    if not sep:
        raise ValidationFailed.field("identifier", "use type:value, e.g. email:jan@example.nl")
    try:
        ref = parse_ref(type_, raw)
    except InvalidIdentifier as exc:
        raise ValidationFailed.field("identifier", str(exc)) from exc
    row = session.scalar(
        select(Identifier).where(Identifier.type == ref.type.value, Identifier.value == ref.value)
    )
    if row is None or row.person_id is None:
        raise PersonNotFound(f"no customer with {ref.type} {ref.value!r}", field="identifier")
    return get_person(session, row.person_id)


def known_ids(session: Session, person_id: uuid.UUID) -> list[uuid.UUID]:
    """The person's id first, then the ids of persons merged into it: what other modules may
    have recorded (a cart opened before two profiles were found to be one person)."""
    person = get_person(session, person_id)
    merged = session.scalars(select(Person.id).where(Person.merged_into_id == person.id))
    return [person.id, *merged]


def values_of(session: Session, person_id: uuid.UUID, kind: str) -> list[str]:
    """The person's identifier values of one type (e.g. every `anonymous_id` they used)."""
    return list(
        session.scalars(
            select(Identifier.value).where(
                Identifier.person_id == person_id, Identifier.type == kind
            )
        )
    )


def identifiers(session: Session, person_id: uuid.UUID) -> list[IdentifierOut]:
    rows = session.scalars(
        select(Identifier).where(Identifier.person_id == person_id).order_by(Identifier.type)
    )
    return [
        IdentifierOut(
            id=i.id,
            type=i.type,
            value=i.value,
            shared=i.shared,
            first_seen_at=i.first_seen_at,
            last_seen_at=i.last_seen_at,
        )
        for i in rows
    ]


def timeline(
    session: Session, person_id: uuid.UUID, *, limit: int, before: uuid.UUID | None = None
) -> Sequence[CustomerEvent]:
    stmt = select(CustomerEvent).where(CustomerEvent.person_id == person_id)
    if before is not None:
        anchor = session.get(CustomerEvent, before)
        if anchor is None:
            raise ValidationFailed.field("cursor", "not a cursor this API issued")
        stmt = stmt.where(
            or_(
                CustomerEvent.timestamp < anchor.timestamp,
                (CustomerEvent.timestamp == anchor.timestamp) & (CustomerEvent.id < anchor.id),
            )
        )
    stmt = stmt.order_by(CustomerEvent.timestamp.desc(), CustomerEvent.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def timeline_entry(event: CustomerEvent) -> TimelineEntry:
    return TimelineEntry(
        id=event.id,
        type=event.type,
        name=event.name,
        channel=event.channel,
        timestamp=event.timestamp,
        properties=event.properties,
    )


def consent_out(row: Consent) -> ConsentOut:
    return ConsentOut(
        channel=row.channel,
        purpose=row.purpose,
        status=row.status,
        source=row.source,
        recorded_at=row.recorded_at,
    )


def customer_360(session: Session, person_id: uuid.UUID) -> Customer360:
    person = get_person(session, person_id)
    return Customer360(
        profile=Profile(
            id=person.id,
            traits=person.traits,
            first_seen_at=person.first_seen_at,
            last_seen_at=person.last_seen_at,
            channels=person.channels,
            created_at=person.created_at,
        ),
        identifiers=identifiers(session, person.id),
        consent=[consent_out(c) for c in consent.current(session, person.id).values()],
        timeline=[timeline_entry(e) for e in timeline(session, person.id, limit=TIMELINE_IN_360)],
        resolved_from=person_id if person.id != person_id else None,
    )


def explain(session: Session, person_id: uuid.UUID) -> Explanation:
    person = get_person(session, person_id)
    ids = identifiers(session, person.id)
    names = {i.id: f"{i.type}:{i.value}" for i in ids}
    links = list(
        session.scalars(
            select(IdentityLink)
            .where(
                IdentityLink.removed_at.is_(None),
                or_(
                    IdentityLink.from_identifier_id.in_(list(names)),
                    IdentityLink.to_identifier_id.in_(list(names)),
                ),
            )
            .order_by(IdentityLink.seq)
        )
    )
    others = {lk.from_identifier_id for lk in links} | {lk.to_identifier_id for lk in links}
    for row in session.execute(
        select(Identifier.id, Identifier.type, Identifier.value).where(
            Identifier.id.in_(others - set(names))
        )
    ):
        names[row.id] = f"{row.type}:{row.value}"
    merged_from = session.scalars(select(Person.id).where(Person.merged_into_id == person.id))
    return Explanation(
        person_id=person.id,
        identifiers=ids,
        links=[
            LinkOut(
                seq=link.seq,
                from_identifier=names.get(link.from_identifier_id, str(link.from_identifier_id)),
                to_identifier=names.get(link.to_identifier_id, str(link.to_identifier_id)),
                rule=link.rule,
                channel=link.channel,
                message_id=link.message_id,
                confidence=link.confidence,
                at=link.created_at,
            )
            for link in links
        ],
        merged_from=list(merged_from),
    )
