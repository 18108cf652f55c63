"""The identity graph, resolved online.

Every message brings identifiers. `Resolver.resolve` finds the person they belong to, inside the
caller's transaction: it creates identifiers and persons, records links with their evidence,
merges persons that the message shows to be one (unless they hold different strong identifiers:
merge protection), and marks an identifier shared when it would join two persons who cannot be
one (a family tablet, a shop's shared email). One Resolver serves one batch: it caches what it
has read, so a batch of messages costs a few queries, not a few per message.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from naadloos.customers.events import IdentifierMarkedShared
from naadloos.customers.identifiers import STRONG_TYPES, IdentifierRef, IdentifierType
from naadloos.customers.models import (
    Identifier,
    IdentityLink,
    Person,
)
from naadloos.customers.service.merge import Evidence, link_row, merge_persons
from naadloos.kit.bulk import insert_rows, lookup
from naadloos.kit.db import table_of
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id

# The identifiers that make merge protection: strong and not shared (literals, not input).
_STRONG_AND_OWN = (
    f'"type" IN ({", ".join(repr(t.value) for t in sorted(STRONG_TYPES))}) AND "shared" = false'
)

_KNOWN_COLUMNS = (
    Identifier.id,
    Identifier.type,
    Identifier.value,
    Identifier.person_id,
    Identifier.shared,
)

# A link that joined two persons (not one that attached a new identifier) is recorded with
# this prefix on its rule: `merge:same_message`, `merge:alias`.
MERGE_RULE_PREFIX = "merge:"


def _limit_reason(ref: IdentifierRef) -> str:
    policy = ref.policy
    return f"joined more than {policy.merge_limit} persons within {policy.merge_window.days} days"


def lock_identifiers(session: Session, refs: Iterable[IdentifierRef]) -> None:
    """Serialise transactions that resolve the same identifiers: on PostgreSQL, a transaction
    advisory lock per identifier, taken in key order so that two batches cannot deadlock. (On
    SQLite, write transactions are serialised already by BEGIN IMMEDIATE.) Without it, two
    batches that meet a new identifier at once would both create it."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted(
        {
            int.from_bytes(hashlib.sha256(str(r).encode()).digest()[:8], "big", signed=True)
            for r in refs
        }
    )
    if keys:
        session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(k)) FROM "
                "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered"
            ),
            {"keys": keys},
        )


@dataclass
class KnownIdentifier:
    id: uuid.UUID
    person_id: uuid.UUID | None
    shared: bool


@dataclass(frozen=True)
class Resolution:
    person_id: uuid.UUID
    identifier_id: uuid.UUID  # the identifier the message is filed under


@dataclass
class Resolver:
    session: Session
    _known: dict[IdentifierRef, KnownIdentifier] = field(default_factory=dict)
    _strong: dict[uuid.UUID, dict[IdentifierType, str]] = field(default_factory=dict)
    _created: dict[uuid.UUID, datetime] = field(default_factory=dict)
    _merged: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    _absent: set[IdentifierRef] = field(default_factory=set)  # looked up, not in the database
    # Rows written in bulk by `flush` (persons first, for the foreign keys).
    pending_persons: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    _pending_identifiers: list[dict[str, Any]] = field(default_factory=list)
    _pending_links: list[dict[str, Any]] = field(default_factory=list)

    def flush(self) -> None:
        """Write the persons, identifiers and links made so far, a statement per table."""
        if self.pending_persons:
            insert_rows(self.session, Person, list(self.pending_persons.values()))
            self.pending_persons.clear()
        if self._pending_identifiers:
            insert_rows(self.session, Identifier, self._pending_identifiers)
            self._pending_identifiers = []
        if self._pending_links:
            insert_rows(self.session, IdentityLink, self._pending_links)
            self._pending_links = []

    # -- reading, cached for the batch --------------------------------------------------------

    def preload(self, refs: Iterable[IdentifierRef]) -> None:
        wanted = [r for r in set(refs) if r not in self._known and r not in self._absent]
        if not wanted:
            return
        for iid, type_, value, person_id, shared in lookup(
            self.session,
            _KNOWN_COLUMNS,
            [Identifier.type, Identifier.value],
            [(r.type.value, r.value) for r in wanted],
        ):
            self._known[IdentifierRef(IdentifierType(type_), value)] = KnownIdentifier(
                iid, person_id, shared
            )
        self._absent.update(r for r in wanted if r not in self._known)

    def prefetch(self, messages: Iterable[list[IdentifierRef]]) -> None:
        """Read what resolving these messages needs, a statement per kind: their identifiers,
        then the strong identifiers of the persons a strong identifier or a merge may concern
        (a page view on a known device needs neither) and the age of persons who may merge."""
        batch = list(messages)
        self.preload(r for refs in batch for r in refs)
        strong: set[uuid.UUID] = set()
        aged: set[uuid.UUID] = set()
        for refs in batch:
            persons = {
                k.person_id
                for k in (self._known.get(r) for r in refs)
                if k is not None and k.person_id is not None and not k.shared
            }
            if len(persons) > 1:
                aged |= persons
            if len(persons) > 1 or any(r.type in STRONG_TYPES for r in refs):
                strong |= persons
        self._load_strong(strong)
        self._load_created(aged)

    def _load_strong(self, person_ids: Iterable[uuid.UUID]) -> None:
        missing = [p for p in set(person_ids) if p not in self._strong]
        if not missing:
            return
        for pid in missing:
            self._strong[pid] = {}
        for owner, type_, value in lookup(
            self.session,
            [Identifier.person_id, Identifier.type, Identifier.value],
            [Identifier.person_id],
            [(p,) for p in missing],
            where=_STRONG_AND_OWN,
        ):
            self._strong[owner][IdentifierType(type_)] = value

    def _load_created(self, person_ids: Iterable[uuid.UUID]) -> None:
        missing = [p for p in set(person_ids) if p not in self._created]
        for pid, created in lookup(
            self.session, [Person.id, Person.created_at], [Person.id], [(p,) for p in missing]
        ):
            self._created[pid] = created

    def _strong_of(self, person: uuid.UUID) -> dict[IdentifierType, str]:
        """The strong identifiers a person holds (read when first needed)."""
        if person not in self._strong:
            self._load_strong([person])
        return self._strong[person]

    def _created_of(self, person: uuid.UUID) -> datetime:
        if person not in self._created:
            self._load_created([person])
        return self._created[person]

    def survivors(self) -> set[uuid.UUID]:
        """The persons that merges of this batch merged others into."""
        return set(self._merged.values())

    def current_person(self, person_id: uuid.UUID) -> uuid.UUID:
        """Where a person of this batch lives now (a later message may have merged it)."""
        return self._merged.get(person_id, person_id)

    def known(self, ref: IdentifierRef) -> KnownIdentifier | None:
        if ref not in self._known:
            self.preload([ref])
        return self._known.get(ref)

    # -- resolving -------------------------------------------------------------------------------

    def resolve(self, refs: list[IdentifierRef], evidence: Evidence) -> Resolution:
        """The person these identifiers (already normalised, not blocked) belong to."""
        if not refs:
            raise ValueError("a message needs at least one identifier")
        ordered = sorted(set(refs), key=lambda r: -r.policy.priority)
        self.preload(ordered)
        strong_in_message = {r.type: r.value for r in ordered if r.type in STRONG_TYPES}

        person: uuid.UUID | None = None
        person_ref: IdentifierRef | None = None  # the identifier that led to `person`
        for ref in ordered:
            found = self._known.get(ref)
            if found is None or found.shared or found.person_id is None:
                continue
            other = found.person_id
            if person is None:
                if self._conflicts(other, strong_in_message):
                    self._share_or_skip(ref, found, "used by persons with different accounts")
                    continue
                person, person_ref = other, ref
            elif other != person and person_ref is not None:
                if self._conflicts(other, {**self._strong_of(person), **strong_in_message}):
                    self._share_or_skip(ref, found, "used by persons with different accounts")
                    continue
                # A value that has joined too many persons lately (the shop's phone number typed
                # in for every walk-in) is shared instead of joining one more.
                if self._over_merge_limit(person_ref, evidence.at):
                    self._share_or_skip(
                        person_ref, self._known[person_ref], _limit_reason(person_ref)
                    )
                    person, person_ref = other, ref
                    continue
                if self._over_merge_limit(ref, evidence.at):
                    self._share_or_skip(ref, found, _limit_reason(ref))
                    continue
                person = self._merge(person, other, person_ref, ref, evidence)

        if person is None:
            person = self._shared_home(ordered) or self._create_person(evidence.at)
        return Resolution(person, self._attach_new(ordered, person, evidence))

    def _shared_home(self, ordered: list[IdentifierRef]) -> uuid.UUID | None:
        """A message that carries nothing but shared identifiers (a pageview on the shop's
        tablet) is filed under the shared identifier's own profile, not under any person."""
        if not all(r in self._known and self._known[r].shared for r in ordered):
            return None
        return self._known[ordered[0]].person_id

    def _over_merge_limit(self, ref: IdentifierRef, at: datetime) -> bool:
        """Has this identifier already joined `merge_limit` merges within its window?"""
        limit = ref.policy.merge_limit
        if limit is None or ref.type in STRONG_TYPES:
            return False
        found = self._known[ref]
        self.flush()
        merges = self.session.connection().execute(
            select(func.count())
            .select_from(IdentityLink)
            .where(
                (IdentityLink.to_identifier_id == found.id)
                | (IdentityLink.from_identifier_id == found.id),
                IdentityLink.rule.like(f"{MERGE_RULE_PREFIX}%"),
                IdentityLink.created_at >= at - ref.policy.merge_window,
                IdentityLink.removed_at.is_(None),
            )
        )
        return int(merges.scalar_one()) >= limit

    def _conflicts(self, person: uuid.UUID, strong: dict[IdentifierType, str]) -> bool:
        if not strong:
            return False
        held = self._strong_of(person)
        return any(t in held and held[t] != v for t, v in strong.items())

    def _share_or_skip(self, ref: IdentifierRef, found: KnownIdentifier, reason: str) -> None:
        """A weak identifier that would join two persons who cannot be one is shared; a strong
        one that disagrees with another strong one is left where it is."""
        if ref.type in STRONG_TYPES:
            return
        home = self._create_person(datetime.now(UTC), traits={"shared_identifier": ref.type.value})
        self.flush()
        found.shared, found.person_id = True, home
        self.session.execute(
            update(table_of(Identifier))
            .where(Identifier.id == found.id)
            .values(shared=True, shared_reason=reason, person_id=home)
        )
        emit(
            self.session,
            IdentifierMarkedShared(
                identifier_id=str(found.id), identifier_type=ref.type.value, reason=reason
            ),
        )

    def _create_person(self, at: datetime, traits: dict[str, Any] | None = None) -> uuid.UUID:
        pid = new_id()
        self.pending_persons[pid] = {
            "id": pid,
            "created_at": at,
            "updated_at": at,
            "first_seen_at": None,
            "last_seen_at": None,
            "traits": traits or {},
            "trait_times": {k: at.isoformat() for k in traits or {}},
            "channels": [],
            "merged_into_id": None,
        }
        self._created[pid] = at
        self._strong[pid] = {}
        return pid

    def _attach_new(
        self, ordered: list[IdentifierRef], person: uuid.UUID, evidence: Evidence
    ) -> uuid.UUID:
        """Create the identifiers not seen before on `person` and link them; returns the id of
        the identifier the message is filed under (its best one that is the person's)."""
        new: list[IdentifierRef] = []
        rows: list[dict[str, Any]] = []
        for ref in ordered:
            if ref in self._known:
                continue
            iid = new_id()
            self._known[ref] = KnownIdentifier(iid, person, False)
            new.append(ref)
            rows.append(
                {
                    "id": iid,
                    "type": ref.type.value,
                    "value": ref.value,
                    "person_id": person,
                    "shared": False,
                    "first_seen_at": evidence.at,
                    "last_seen_at": evidence.at,
                }
            )
            if ref.type in STRONG_TYPES:
                self._strong_of(person)[ref.type] = ref.value
        mine = [
            r for r in ordered if self._known[r].person_id == person and not self._known[r].shared
        ]
        if not mine:  # every identifier of the message is shared: a person of its own
            return self._known[ordered[0]].id
        anchor = mine[0]
        if rows:
            self._pending_identifiers += rows
            self._absent.difference_update(new)
            anchor_id = self._known[anchor].id
            links = [link_row(anchor_id, self._known[r].id, evidence) for r in new if r != anchor]
            existing = [r for r in mine if r not in new]
            if anchor in new and existing:
                links.append(link_row(self._known[existing[0]].id, anchor_id, evidence))
            self._pending_links += links
        return self._known[anchor].id

    # -- merging ---------------------------------------------------------------------------------

    def _merge(
        self,
        a: uuid.UUID,
        b: uuid.UUID,
        via: IdentifierRef,
        bridge: IdentifierRef,
        evidence: Evidence,
    ) -> uuid.UUID:
        """Merge two persons into the older one; returns the survivor."""
        self.flush()
        older_first = self._created_of(a) <= self._created_of(b)
        survivor, merged = (a, b) if older_first else (b, a)
        merge_persons(
            self.session,
            survivor=survivor,
            merged=merged,
            via_identifier=self._known[via].id,
            bridge_identifier=self._known[bridge].id,
            evidence=replace(evidence, rule=f"{MERGE_RULE_PREFIX}{evidence.rule}"),
        )
        for known in self._known.values():
            if known.person_id == merged:
                known.person_id = survivor
        for old, new in list(self._merged.items()):
            if new == merged:
                self._merged[old] = survivor
        self._merged[merged] = survivor
        self._strong[survivor] = {**self._strong_of(merged), **self._strong_of(survivor)}
        return survivor
