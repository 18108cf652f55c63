"""Matching quality and speed: records of the shipped generator (known truth) go in through the
online path, a source at a time in batches, as imports do; then every pair of records is judged:
were they made one person? Precision and recall over pairs, milliseconds per record."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select

from bench.common import BenchDatabase, report
from bench.customer_records import generate, true_pairs
from naadloos.channels import service as channels
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import ChannelCreate
from naadloos.customers.identifiers import IdentifierType
from naadloos.customers.models import Identifier, Person
from naadloos.customers.service import records as customer_records
from naadloos.customers.service import tracking
from naadloos.kit.time import utcnow
from naadloos.runtime import build_runtime

BATCH = 200


def run(db: BenchDatabase, persons: int = 10_000) -> None:
    runtime = build_runtime(db.settings)
    with runtime.db.unit_of_work() as session:
        channels.create_channel(
            session, ChannelCreate(code="store:utrecht", name="Utrecht", kind=ChannelKind.STORE)
        )
    recs = generate(persons)
    started = time.perf_counter()
    for start in range(0, len(recs), BATCH):
        chunk = recs[start : start + BATCH]
        by_source: dict[str, list[tuple[int, str, dict[str, str], list]]] = {}  # type: ignore[type-arg]
        for i, r in enumerate(chunk):
            row = customer_records.Row(i, {"external_id": r.external_id, **r.values})
            made = customer_records.to_record(row, r.source)
            by_source.setdefault(r.source, []).append((i, made.message_id, made.traits, made.refs))
        with runtime.db.unit_of_work() as session:
            for source, items in by_source.items():
                tracking.ingest_records(session, items, channel=source, received_at=utcnow())
    elapsed = time.perf_counter() - started

    with runtime.db.unit_of_work(write=False) as session:
        rows = session.execute(
            select(Identifier.value, Identifier.person_id).where(
                Identifier.type == IdentifierType.EXTERNAL_ID.value
            )
        ).all()
        redirect = dict(
            session.execute(
                select(Person.id, Person.merged_into_id).where(Person.merged_into_id.is_not(None))
            ).all()
        )
    person_of = {}
    for value, pid in rows:
        source, external = value.split("/", 1)
        person_of[external] = redirect.get(pid, pid)
    groups: dict[object, list[str]] = {}
    for external, pid in person_of.items():
        groups.setdefault(pid, []).append(external)
    predicted = {
        frozenset((a, b))
        for ids in groups.values()
        for i, a in enumerate(ids)
        for b in ids[i + 1 :]
    }
    truth = true_pairs(recs)
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    sizes = Counter(len(ids) for ids in groups.values())
    runtime.db.dispose()
    # Quality has no raw-SQL ceiling: the targets are given instead.
    report(
        f"matching.precision.{db.name}",
        round(precision, 4),
        "ratio",
        None,
        target=0.995,
        records=len(recs),
        true_pairs=len(truth),
        predicted_pairs=len(predicted),
    )
    report(f"matching.recall.{db.name}", round(recall, 4), "ratio", None, target=0.97)
    report(
        f"matching.online_ms_per_record.{db.name}",
        elapsed * 1000 / len(recs),
        "ms",
        None,
        target=5.0,
        group_sizes=dict(sorted(sizes.items())),
    )
