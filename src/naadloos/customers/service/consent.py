"""Consent per channel and purpose: granted, denied or withdrawn, with source and time.
A log: the current state is the latest decision; a merge keeps the most restrictive."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.customers.events import ConsentChanged
from naadloos.customers.models import Consent
from naadloos.kit.bulk import insert_rows
from naadloos.kit.events import emit


class ConsentChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    PUSH = "push"
    PHONE = "phone"


class Purpose(StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"
    PERSONALISATION = "personalisation"
    ANALYTICS = "analytics"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


Key = tuple[str, str]  # (channel, purpose)


def current(session: Session, person_id: uuid.UUID) -> dict[Key, Consent]:
    """The latest decision per (channel, purpose)."""
    latest: dict[Key, Consent] = {}
    for row in session.scalars(
        select(Consent).where(Consent.person_id == person_id).order_by(Consent.seq)
    ):
        latest[(row.channel, row.purpose)] = row
    return latest


def history(session: Session, person_id: uuid.UUID) -> list[Consent]:
    return list(
        session.scalars(
            select(Consent).where(Consent.person_id == person_id).order_by(Consent.seq.desc())
        )
    )


def record(
    session: Session,
    person_id: uuid.UUID,
    *,
    channel: ConsentChannel,
    purpose: Purpose,
    status: ConsentStatus,
    source: str,
    at: datetime,
    identifier_id: uuid.UUID | None = None,
) -> None:
    insert_rows(
        session,
        Consent,
        [
            {
                "person_id": person_id,
                "identifier_id": identifier_id,
                "channel": channel.value,
                "purpose": purpose.value,
                "status": status.value,
                "source": source,
                "recorded_at": at,
            }
        ],
    )
    emit(
        session,
        ConsentChanged(
            person_id=str(person_id),
            channel=channel.value,
            purpose=purpose.value,
            status=status.value,
            source=source,
        ),
    )


def keep_most_restrictive(
    session: Session,
    survivor: uuid.UUID,
    before: dict[Key, str],
    other: dict[Key, str],
    at: datetime,
) -> None:
    """After a merge (the rows of both already belong to `survivor`): where the two profiles
    disagreed, the survivor's consent becomes the most restrictive of the two."""
    for key in before.keys() | other.keys():
        mine, theirs = before.get(key), other.get(key)
        if mine == theirs or ConsentStatus.GRANTED.value not in (mine, theirs):
            continue
        restrictive = theirs if mine == ConsentStatus.GRANTED.value else mine
        if restrictive is None:  # one side never decided: nothing to restrict
            continue
        record(
            session,
            survivor,
            channel=ConsentChannel(key[0]),
            purpose=Purpose(key[1]),
            status=ConsentStatus(restrictive),
            source="merge",
            at=at,
        )
