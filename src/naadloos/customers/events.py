from __future__ import annotations

from naadloos.kit.events import Event


class ProfilesMerged(Event):
    """Two profiles turned out to be one person; `merged_id` now resolves to `person_id`."""

    person_id: str
    merged_id: str
    rule: str
    bridge_identifier_id: str  # ids, never values: the event stream carries no personal data


class IdentifierMarkedShared(Event):
    """An identifier is used by more than one person; it no longer links anyone."""

    identifier_id: str
    identifier_type: str
    reason: str


class ConsentChanged(Event):
    person_id: str
    channel: str
    purpose: str
    status: str
    source: str


class CustomerErased(Event):
    """Everything about the person is gone; consumers delete what they derived from it."""

    person_id: str
    merged_ids: list[str]


class ProfileSplit(Event):
    """A link was removed and the person fell apart: `new_person_ids` took their identifiers,
    events and consents with them; `person_id` kept the rest."""

    person_id: str
    new_person_ids: list[str]
    link_seq: int
