"""Delivery of outbox events after commit: the event bus of in-process subscribers and the
dispatcher that feeds it (and NATS JetStream, when configured).

At least once: an event is marked delivered only after NATS acked it and every subscriber
committed. Each subscriber runs in its own transaction that also records (consumer, event id)
in `processed_events`, so a redelivery is skipped by a consumer that already handled it.
A process that dies between commit and delivery leaves the event pending; any dispatcher
(the same process restarted, or another one) delivers it. Several dispatchers share the work
through a short lease on each claimed row.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Uuid, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from naadloos.kit import metrics
from naadloos.kit.blocking import in_thread, on_the_loop
from naadloos.kit.db import Database, insert_or_nothing, table_of
from naadloos.kit.events import EVENTS_WRITTEN, Envelope, Event
from naadloos.kit.models import IdempotencyKey, OutboxEvent, ProcessedEvent
from naadloos.kit.prepared import Prepared
from naadloos.kit.settings import Settings
from naadloos.kit.time import utcnow

log = logging.getLogger(__name__)

Handler = Callable[[Session, Envelope], None]
# A subscriber that calls another system (a payment provider) does so outside any transaction,
# so no lock waits on the other side's answer; it returns what to record in the database.
CallOut = Callable[[Envelope], Handler]


@dataclass(frozen=True, slots=True)
class Subscriber:
    consumer: str
    handler: Handler | None = None
    call_out: CallOut | None = None


@dataclass
class EventBus:
    """In-process subscribers by event name. A consumer name is stable: it keys idempotency."""

    _subscribers: dict[str, list[Subscriber]] = field(default_factory=dict)

    def subscribe(self, event: type[Event] | str, consumer: str, handler: Handler) -> None:
        name = event if isinstance(event, str) else event.event_name()
        self._add(name, Subscriber(consumer, handler=handler))

    def subscribe_calling_out(self, event: type[Event], consumer: str, call_out: CallOut) -> None:
        """`call_out(envelope)` runs first, outside any transaction (it must be idempotent for
        the event: a failure after it, or a second dispatcher, repeats it); the handler it
        returns then runs in the subscriber's transaction."""
        self._add(event.event_name(), Subscriber(consumer, call_out=call_out))

    def _add(self, name: str, subscriber: Subscriber) -> None:
        subs = self._subscribers.setdefault(name, [])
        if any(s.consumer == subscriber.consumer for s in subs):
            raise ValueError(f"consumer {subscriber.consumer!r} already subscribes to {name}")
        subs.append(subscriber)

    def subscribers(self, name: str) -> list[Subscriber]:
        return self._subscribers.get(name, [])


class Publisher(Protocol):
    async def publish(self, envelope: Envelope) -> bool: ...

    async def close(self) -> None: ...


@dataclass
class DispatchResult:
    delivered: int = 0
    failed: int = 0

    @property
    def claimed(self) -> int:
        return self.delivered + self.failed


def run_subscriber(db: Database, sub: Subscriber, envelope: Envelope) -> bool:
    """Run one subscriber for one event in its own transaction, together with the record that it
    did; False (and nothing run) if that record exists already."""
    handler = sub.handler
    if sub.call_out is not None:
        with db.unit_of_work(write=False) as session:
            done = session.get(ProcessedEvent, (sub.consumer, envelope.event_id))
        if done is not None:
            return False
        handler = sub.call_out(envelope)
    if handler is None:
        raise ValueError(f"subscriber {sub.consumer!r} has nothing to run")
    with db.unit_of_work() as session:
        claimed = insert_or_nothing(
            session,
            ProcessedEvent,
            {"consumer": sub.consumer, "event_id": envelope.event_id, "processed_at": utcnow()},
            ProcessedEvent.event_id,
        )
        if claimed is None:
            return False
        handler(session, envelope)
    return True


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 3600))


OUTBOX = table_of(OutboxEvent)


def _claim_statement(*, skip_locked: bool) -> Prepared:
    due = (
        select(OUTBOX.c.seq)
        .where(
            OUTBOX.c.delivered_at.is_(None),
            OUTBOX.c.available_at <= bindparam("now"),
            OUTBOX.c.attempts < bindparam("max_attempts"),
            OUTBOX.c.claimed_until.is_(None) | (OUTBOX.c.claimed_until < bindparam("now")),
        )
        .order_by(OUTBOX.c.seq)
        .limit(bindparam("batch"))
    )
    if skip_locked:  # PostgreSQL: dispatchers in other processes take other rows
        due = due.with_for_update(skip_locked=True)
    return Prepared(
        update(OUTBOX)
        .where(OUTBOX.c.seq.in_(due.scalar_subquery()))
        .values(claimed_until=bindparam("lease"))
        .returning(
            OUTBOX.c.seq,
            OUTBOX.c.event_id,
            OUTBOX.c.name,
            OUTBOX.c.occurred_at,
            OUTBOX.c.payload,
        )
    )


_CLAIM = _claim_statement(skip_locked=False)
_CLAIM_SKIP_LOCKED = _claim_statement(skip_locked=True)
_SETTLED = {
    "delivered_at": bindparam("now"),
    "claimed_until": None,
    "attempts": OUTBOX.c.attempts + 1,
    "last_error": None,
}
_DELIVERED = Prepared(update(OUTBOX).where(OUTBOX.c.event_id == bindparam("id")).values(_SETTLED))
# PostgreSQL: a round's events in one statement (an executemany is a statement each).
_ALL_DELIVERED = Prepared(
    update(OUTBOX)
    .where(OUTBOX.c.event_id == any_(bindparam("ids", type_=ARRAY(Uuid()))))
    .values(_SETTLED)
)


def _mark_delivered(session: Session, event_ids: list[uuid.UUID], now: datetime) -> None:
    if len(event_ids) > 1 and session.get_bind().dialect.name == "postgresql":
        _ALL_DELIVERED.run(session, {"ids": event_ids, "now": now})
    elif event_ids:
        _DELIVERED.run_many(session, [{"id": event_id, "now": now} for event_id in event_ids])


class Dispatcher:
    """Delivers committed outbox events. `notify()` is safe to call from any thread."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        settings: Settings,
        publisher: Publisher | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.publisher = publisher
        self._wake = threading.Event()
        db.on_commit(self._on_commit)

    def _on_commit(self, session: Session) -> None:
        if session.info.pop(EVENTS_WRITTEN, False):
            self.notify()

    def notify(self) -> None:
        self._wake.set()

    # -- one round ---------------------------------------------------------------------------

    def claim(self, *, settle_unsubscribed: bool = False) -> tuple[list[Envelope], list[Envelope]]:
        """Lease a batch of due events in order, skipping rows another dispatcher holds.
        `settle_unsubscribed` (no publisher): events no subscriber wants are recorded as
        delivered in the same transaction. Returns the events to deliver, and those settled."""
        now = utcnow()
        claim = _CLAIM_SKIP_LOCKED if self.db.dialect == "postgresql" else _CLAIM
        with self.db.unit_of_work() as session:
            rows = claim.rows(
                session,
                {
                    "now": now,
                    "lease": now + timedelta(seconds=self.settings.dispatcher_lease_seconds),
                    "max_attempts": self.settings.outbox_max_attempts,
                    "batch": self.settings.dispatcher_batch_size,
                },
            )
            rows.sort(key=lambda r: r[0])  # RETURNING gives no order
            batch = [
                Envelope(event_id, name, at, payload) for _, event_id, name, at, payload in rows
            ]
            if not settle_unsubscribed:
                return batch, []
            wanted: list[Envelope] = []
            unwanted: list[Envelope] = []
            for envelope in batch:
                (wanted if self.bus.subscribers(envelope.name) else unwanted).append(envelope)
            _mark_delivered(session, [e.event_id for e in unwanted], now)
        return wanted, unwanted

    def deliver_locally(self, batch: list[Envelope], failed: dict[uuid.UUID, str]) -> None:
        """Run the subscribers of each event not already failed; record failures in `failed`."""
        for envelope in batch:
            if envelope.event_id in failed:
                continue
            try:
                for sub in self.bus.subscribers(envelope.name):
                    run_subscriber(self.db, sub, envelope)
            except Exception as exc:
                log.exception("subscriber failed", extra={"event_id": str(envelope.event_id)})
                failed[envelope.event_id] = f"subscriber: {type(exc).__name__}: {exc}"

    def deliver_and_settle(self, batch: list[Envelope], failed: dict[uuid.UUID, str]) -> None:
        self.deliver_locally(batch, failed)
        self.settle([e for e in batch if e.event_id not in failed], failed)

    def settle(self, delivered: list[Envelope], failed: dict[uuid.UUID, str]) -> None:
        now = utcnow()
        with self.db.unit_of_work() as session:
            _mark_delivered(session, [e.event_id for e in delivered], now)
            for event_id, error in failed.items():
                row = session.scalars(
                    select(OutboxEvent).where(OutboxEvent.event_id == event_id)
                ).one()
                row.attempts += 1
                row.claimed_until = None
                row.available_at = now + _backoff(row.attempts)
                row.last_error = error[:2000]
                if row.attempts >= self.settings.outbox_max_attempts:
                    log.error(
                        "event gave up after %d attempts",
                        row.attempts,
                        extra={"event_id": str(event_id), "event": row.name, "error": error},
                    )

    def _round(self) -> tuple[list[Envelope], dict[uuid.UUID, str]]:
        """A whole round without NATS: claim, run the subscribers, record (one thread hop).
        Events nobody subscribes to are settled with the claim: one transaction, not two."""
        batch, settled = self.claim(settle_unsubscribed=True)
        failed: dict[uuid.UUID, str] = {}
        if batch:
            self.deliver_and_settle(batch, failed)
        return settled + batch, failed

    async def _round_on_the_loop(self) -> tuple[list[Envelope], dict[uuid.UUID, str]]:
        """`_round` on SQLite, where requests run their database work on the event loop (ADR
        0003): so does the dispatcher, an event at a time, taking its turn between requests
        like one more client. On a thread it held the GIL for up to 5 ms whenever a request
        let go of it, and its transactions made a request's `BEGIN IMMEDIATE` sleep in
        SQLite's busy handler, the event loop with it (ADR 0016). A subscriber that calls
        another system still runs on a thread, so no request waits for that system."""
        batch, settled = self.claim(settle_unsubscribed=True)
        failed: dict[uuid.UUID, str] = {}
        for envelope in batch:
            await asyncio.sleep(0)
            if any(sub.call_out is not None for sub in self.bus.subscribers(envelope.name)):
                await in_thread(functools.partial(self.deliver_locally, [envelope], failed))
            else:
                self.deliver_locally([envelope], failed)
        if batch:
            await asyncio.sleep(0)
            self.settle([e for e in batch if e.event_id not in failed], failed)
        return settled + batch, failed

    async def run_once(self) -> DispatchResult:
        """Claim one batch, publish it and run the subscribers, then record the outcome."""
        if self.publisher is None:
            if on_the_loop(self.db):
                batch, failed = await self._round_on_the_loop()
            else:
                batch, failed = await in_thread(self._round)
            return self._counted(batch, failed)
        batch, _ = await in_thread(self.claim)
        if not batch:
            return DispatchResult()
        failed = {}
        outcomes = await asyncio.gather(
            *(self.publisher.publish(e) for e in batch), return_exceptions=True
        )
        for envelope, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failed[envelope.event_id] = f"publish: {type(outcome).__name__}: {outcome}"
        await in_thread(lambda: self.deliver_and_settle(batch, failed))
        return self._counted(batch, failed)

    def _counted(self, batch: list[Envelope], failed: dict[uuid.UUID, str]) -> DispatchResult:
        for envelope in batch:
            counter = (
                metrics.EVENTS_FAILED if envelope.event_id in failed else metrics.EVENTS_DELIVERED
            )
            counter.labels(envelope.name).inc()
        return DispatchResult(delivered=len(batch) - len(failed), failed=len(failed))

    async def drain(self) -> int:
        """Deliver until nothing is due; returns how many were delivered."""
        total = 0
        while True:
            result = await self.run_once()
            total += result.delivered
            if result.claimed < self.settings.dispatcher_batch_size or result.delivered == 0:
                return total

    # -- the loop ----------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Deliver whenever a commit wrote events, and poll for events other processes wrote."""
        housekeeping_due = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.drain()
                if loop.time() >= housekeeping_due:
                    await in_thread(self.housekeeping)
                    housekeeping_due = loop.time() + 300
            except Exception:
                log.exception("dispatcher round failed; retrying")
            woken = await asyncio.to_thread(self._wake.wait, self.settings.dispatcher_poll_seconds)
            if woken:  # let a burst of commits gather into one batch
                await asyncio.sleep(self.settings.dispatcher_linger_seconds)

    def housekeeping(self) -> None:
        """Forget what no retry can need any more, and report the backlog."""
        now = utcnow()
        events_before = now - timedelta(days=self.settings.outbox_retention_days)
        keys_before = now - timedelta(hours=self.settings.idempotency_retention_hours)
        with self.db.unit_of_work() as session:
            session.execute(
                delete(OutboxEvent).where(OutboxEvent.delivered_at < events_before),
                execution_options={"synchronize_session": False},
            )
            session.execute(
                delete(ProcessedEvent).where(ProcessedEvent.processed_at < events_before),
                execution_options={"synchronize_session": False},
            )
            session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < keys_before),
                execution_options={"synchronize_session": False},
            )
            pending = session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.delivered_at.is_(None))
            )
        metrics.OUTBOX_PENDING.set(pending or 0)
