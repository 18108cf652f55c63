"""Customer records from files (a loyalty system's export, a web shop's accounts): CSV or JSONL
rows become identify messages of the channel they come from, so they go through the same
identity graph as everything else. A row's message id is a hash of its content: importing the
same file again changes nothing, and a changed row updates the profile."""

from __future__ import annotations

import csv
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from naadloos.customers.identifiers import (
    IdentifierRef,
    IdentifierType,
    InvalidIdentifier,
    parse_ref,
)
from naadloos.customers.models import Identifier, Person
from naadloos.kit.time import utcnow

TRAIT_COLUMNS = (
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "house_number",
    "postcode",
    "city",
    "region",
    "country",
)
IDENTIFIER_COLUMNS = ("email", "phone", "loyalty_card")
COLUMNS = ("external_id", *TRAIT_COLUMNS, *IDENTIFIER_COLUMNS)


class RecordError(ValueError):
    """A row that cannot be imported, with what is wrong with it."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


def unknown_columns(path: Path) -> list[str]:
    """The columns of a CSV file that are not imported; RecordError without external_id."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    if "external_id" not in header:
        raise RecordError(f"{path}: the header has no external_id column")
    return [c for c in header if c not in COLUMNS]


def iter_rows(path: Path) -> Iterator[Row]:
    """The rows of a CSV or JSONL file, with their line numbers."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl(path)
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for record in reader:
            yield Row(reader.line_num, {k: (v or "").strip() for k, v in record.items() if k})


def _jsonl(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(number, {"__error__": f"not JSON: {exc.msg}"})
                continue
            if not isinstance(record, dict):
                yield Row(number, {"__error__": "not a JSON object"})
                continue
            yield Row(
                number,
                {k: "" if v is None else str(v).strip() for k, v in record.items() if k in COLUMNS},
            )


@dataclass(frozen=True)
class Record:
    """A row made ready for the identity graph."""

    line: int
    message_id: str
    traits: dict[str, str]
    refs: list[IdentifierRef]


def to_record(row: Row, channel: str) -> Record:
    """The row's traits and identifiers; RecordError says what is wrong with it."""
    values = row.values
    if "__error__" in values:
        raise RecordError(values["__error__"])
    external = values.get("external_id", "")
    if not external:
        raise RecordError("external_id is empty")
    refs = [parse_ref(IdentifierType.EXTERNAL_ID, f"{channel}/{external}")]
    for column in IDENTIFIER_COLUMNS:
        if values.get(column):
            try:
                ref = parse_ref(column, values[column])
            except InvalidIdentifier as exc:
                raise RecordError(f"{column}: {exc}") from exc
            if not ref.policy.blocks(ref.value):
                refs.append(ref)
    if values.get("birth_date"):
        try:
            born = date.fromisoformat(values["birth_date"])
        except ValueError as exc:
            raise RecordError(f"birth_date: {values['birth_date']!r} is not YYYY-MM-DD") from exc
        if not date(1900, 1, 1) <= born <= utcnow().date():
            raise RecordError(f"birth_date: {born} is not a plausible birth date")
    traits = {c: values[c] for c in (*TRAIT_COLUMNS, *IDENTIFIER_COLUMNS) if values.get(c)}
    content = json.dumps([channel, sorted(values.items())], separators=(",", ":"))
    digest = hashlib.sha256(content.encode()).hexdigest()[:40]
    return Record(row.line, f"import-{digest}", traits, refs)


def export_persons(session: Session, after: uuid.UUID | None, limit: int) -> list[dict[str, Any]]:
    """A page of persons (not merged away, not profiles of shared identifiers) as export lines."""
    stmt = select(Person).where(Person.merged_into_id.is_(None)).order_by(Person.id).limit(limit)
    if after is not None:
        stmt = stmt.where(Person.id > after)
    persons = list(session.scalars(stmt))
    ids = [p.id for p in persons]
    identifiers: dict[uuid.UUID, list[Identifier]] = {pid: [] for pid in ids}
    for ident in session.scalars(
        select(Identifier).where(Identifier.person_id.in_(ids)).order_by(Identifier.type)
    ):
        if ident.person_id is not None:
            identifiers[ident.person_id].append(ident)
    lines = []
    for person in persons:
        mine = identifiers[person.id]
        if any(i.shared for i in mine):
            continue
        lines.append(
            {
                "id": str(person.id),
                "traits": person.traits,
                "identifiers": [
                    {"type": i.type, "value": i.value}
                    for i in mine
                    if i.type != IdentifierType.EXTERNAL_ID
                ],
                "sources": [
                    {"channel": i.value.split("/", 1)[0], "external_id": i.value.split("/", 1)[1]}
                    for i in mine
                    if i.type == IdentifierType.EXTERNAL_ID and "/" in i.value
                ],
            }
        )
    return lines


def count_persons(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Person).where(Person.merged_into_id.is_(None))
        )
        or 0
    )


def person_ids(session: Session, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
    stmt = select(Person.id).where(Person.merged_into_id.is_(None))
    if after is not None:
        stmt = stmt.where(Person.id > after)
    return list(session.scalars(stmt.order_by(Person.id).limit(limit)))
