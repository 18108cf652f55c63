"""GDPR: export everything about a person; erase everything, and remember (hashed) what must
not bring them back when old messages are replayed."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from naadloos.customers.events import CustomerErased
from naadloos.customers.identifiers import IdentifierRef
from naadloos.customers.models import (
    Consent,
    CustomerEvent,
    Identifier,
    IdentityLink,
    MatchKey,
    MatchSuggestion,
    Person,
    Suppression,
)
from naadloos.customers.service.profiles import get_person
from naadloos.kit.bulk import insert_rows, present
from naadloos.kit.events import emit, forget
from naadloos.kit.time import utcnow

IDENTIFIER = "identifier"
MESSAGE = "message"


def digest(kind: str, value: str) -> bytes:
    return hashlib.sha256(f"{kind}\0{value}".encode()).digest()


def identifier_digest(ref: IdentifierRef) -> bytes:
    return digest(IDENTIFIER, f"{ref.type.value}:{ref.value}")


def any_suppressions(session: Session) -> bool:
    return session.connection().execute(select(Suppression.digest).limit(1)).first() is not None


def suppressed(session: Session, digests: list[bytes]) -> set[bytes]:
    """Which of these digests belong to erased persons."""
    found: set[bytes] = present(session, Suppression.digest, digests)
    return found


def _persons(session: Session, person_id: uuid.UUID) -> tuple[Person, list[uuid.UUID]]:
    person = get_person(session, person_id)
    merged = list(session.scalars(select(Person.id).where(Person.merged_into_id == person.id)))
    return person, merged


def export(session: Session, person_id: uuid.UUID) -> dict[str, Any]:
    """Everything naadloos holds about the person, as JSON-ready data."""
    person, merged = _persons(session, person_id)
    identifiers = list(session.scalars(select(Identifier).where(Identifier.person_id == person.id)))
    ids = [i.id for i in identifiers]
    links = session.scalars(
        select(IdentityLink).where(
            or_(IdentityLink.from_identifier_id.in_(ids), IdentityLink.to_identifier_id.in_(ids))
        )
    )
    events = session.scalars(
        select(CustomerEvent)
        .where(CustomerEvent.person_id == person.id)
        .order_by(CustomerEvent.timestamp)
    )
    consents = session.scalars(
        select(Consent).where(Consent.person_id == person.id).order_by(Consent.seq)
    )
    return {
        "person": {
            "id": str(person.id),
            "created_at": person.created_at.isoformat(),
            "first_seen_at": person.first_seen_at.isoformat() if person.first_seen_at else None,
            "last_seen_at": person.last_seen_at.isoformat() if person.last_seen_at else None,
            "traits": person.traits,
            "channels": person.channels,
            "merged_from": [str(m) for m in merged],
        },
        "identifiers": [
            {
                "type": i.type,
                "value": i.value,
                "first_seen_at": i.first_seen_at.isoformat(),
                "last_seen_at": i.last_seen_at.isoformat(),
            }
            for i in identifiers
        ],
        "links": [
            {
                "rule": k.rule,
                "channel": k.channel,
                "message_id": k.message_id,
                "created_at": k.created_at.isoformat(),
                "removed_at": k.removed_at.isoformat() if k.removed_at else None,
            }
            for k in links
        ],
        "events": [
            {
                "message_id": e.message_id,
                "type": e.type,
                "name": e.name,
                "channel": e.channel,
                "timestamp": e.timestamp.isoformat(),
                "properties": e.properties,
                "traits": e.traits,
                "context": e.context,
            }
            for e in events
        ],
        "consents": [
            {
                "channel": c.channel,
                "purpose": c.purpose,
                "status": c.status,
                "source": c.source,
                "recorded_at": c.recorded_at.isoformat(),
            }
            for c in consents
        ],
    }


def erase(session: Session, person_id: uuid.UUID) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Delete every row about the person (and the profiles merged into it), keeping only hashes
    of its identifiers and message ids so that replayed messages cannot re-create it."""
    person, merged = _persons(session, person_id)
    everyone = [person.id, *merged]
    identifiers = list(
        session.execute(
            select(Identifier.id, Identifier.type, Identifier.value).where(
                Identifier.person_id.in_(everyone)
            )
        )
    )
    ids = [row.id for row in identifiers]
    message_ids = list(
        session.scalars(
            select(CustomerEvent.message_id).where(CustomerEvent.person_id.in_(everyone))
        )
    )
    now = utcnow()
    digests = {digest(IDENTIFIER, f"{r.type}:{r.value}"): IDENTIFIER for r in identifiers}
    digests.update({digest(MESSAGE, m): MESSAGE for m in message_ids})
    known = suppressed(session, list(digests))
    insert_rows(
        session,
        Suppression,
        [{"digest": d, "kind": k, "created_at": now} for d, k in digests.items() if d not in known],
    )
    sync = {"synchronize_session": False}
    session.execute(
        delete(MatchKey).where(MatchKey.person_id.in_(everyone)), execution_options=sync
    )
    session.execute(
        delete(MatchSuggestion).where(
            or_(MatchSuggestion.person_a.in_(everyone), MatchSuggestion.person_b.in_(everyone))
        ),
        execution_options=sync,
    )
    session.execute(
        delete(Consent).where(or_(Consent.person_id.in_(everyone), Consent.identifier_id.in_(ids))),
        execution_options=sync,
    )
    session.execute(
        delete(CustomerEvent).where(
            or_(CustomerEvent.person_id.in_(everyone), CustomerEvent.identifier_id.in_(ids))
        ),
        execution_options=sync,
    )
    session.execute(
        delete(IdentityLink).where(
            or_(IdentityLink.from_identifier_id.in_(ids), IdentityLink.to_identifier_id.in_(ids))
        ),
        execution_options=sync,
    )
    session.execute(delete(Identifier).where(Identifier.id.in_(ids)), execution_options=sync)
    session.execute(delete(Person).where(Person.id.in_(merged)), execution_options=sync)
    session.execute(delete(Person).where(Person.id == person.id), execution_options=sync)
    session.expunge_all()
    forget(session, [str(p) for p in everyone])
    emit(
        session,
        CustomerErased(person_id=str(person.id), merged_ids=[str(m) for m in merged]),
    )
    return person.id, merged
