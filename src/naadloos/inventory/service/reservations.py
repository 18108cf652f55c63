"""Holds on stock with a time to live. A reservation's lines are held all or none: each line is
one conditional UPDATE in key order (sku, location id) in the request's transaction, and a line
that finds too little raises, so the transaction rolls back every line before it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, bindparam, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from naadloos.channels import service as channels
from naadloos.inventory.models import Location, Reservation, ReservationLine
from naadloos.inventory.schemas import (
    ReservationCreate,
    ReservationLineOut,
    ReservationOut,
    ReservationStatus,
)
from naadloos.inventory.service import (
    expiry,
    ledger,
    locations,
    reservation_rows,
    safety,
    shortfall,
)
from naadloos.inventory.service.locations import Place
from naadloos.kit.db import table_of
from naadloos.kit.errors import Conflict, NotFound
from naadloos.kit.ids import new_id
from naadloos.kit.time import utcnow

RESERVATIONS = table_of(Reservation)


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Insufficient stock"


class ReservationNotFound(NotFound):
    code = "reservation_not_found"
    title = "Reservation not found"


class ReservationClosed(Conflict):
    code = "reservation_closed"
    title = "The reservation can no longer change this way"


@dataclass(frozen=True, slots=True)
class _Terms:
    """What every line of one reservation shares."""

    channel: str
    ttl_seconds: int
    reference: str | None
    by: str | None
    now: datetime


def reserve(
    session: Session, data: ReservationCreate, *, by: str | None, at: datetime | None = None
) -> ReservationOut:
    if not channels.channel_exists(session, data.channel):
        channels.get_channel(session, data.channel, field="channel")  # raises the 404
    terms = _Terms(data.channel, data.ttl_seconds, data.reference, by, at or utcnow())
    lines = data.all_lines()
    many = data.lines is not None
    if not many:
        line = lines[0]
        held = _hold_one(session, line.sku, line.location, line.qty, terms)
        if held is not None:
            return held

    def field(i: int, name: str) -> str:
        return f"lines.{i}.{name}" if many else name

    places = locations.resolve(
        session, [(line.location, field(i, "location")) for i, line in enumerate(lines)]
    )
    wanted: dict[tuple[str, int], int] = defaultdict(int)  # the same place twice is one hold
    first_line: dict[str, int] = {}
    for i, line in enumerate(lines):
        wanted[(line.sku, places[line.location].id)] += line.qty
        first_line.setdefault(line.sku, i)
    by_id = {place.id: place for place in places.values()}
    field_of = {sku: field(i, "sku") for sku, i in first_line.items()}
    return _create(session, wanted, by_id, terms, field_of)


def reserve_at(
    session: Session,
    place: Place,
    sku: str,
    qty: int,
    *,
    channel: str,
    ttl_seconds: int,
    reference: str | None,
    by: str | None,
) -> ReservationOut:
    """`reserve` for one line at a location the caller has already resolved and a channel it
    has already checked (a cart's line): the same hold with fewer statements."""
    terms = _Terms(channel, ttl_seconds, reference, by, utcnow())
    held = _hold_one(session, sku, place, qty, terms)
    if held is not None:
        return held
    return _create(session, {(sku, place.id): qty}, {place.id: place}, terms, {sku: "sku"})


def _hold_one(
    session: Session, sku: str, location: Place | str, qty: int, terms: _Terms
) -> ReservationOut | None:
    """One line held in one statement (location, safety stock and hold); a refusal for plainly
    too little stock raises with what is available (the same statement on PostgreSQL, one more
    on SQLite); None otherwise: the general path then finds out why (unknown location, expired
    holds)."""
    reservation_id = new_id()
    place = shortfall.hold_or_short(
        session,
        sku,
        location,
        qty,
        channel=terms.channel,
        reference=str(reservation_id),
        at=terms.now,
    )
    if isinstance(place, shortfall.Short):
        raise _insufficient(sku, place.place.code, qty, place.available)
    if place is None:
        return None
    return _record(session, reservation_id, {(sku, place.id): qty}, {place.id: place}, terms)


def _create(
    session: Session,
    wanted: dict[tuple[str, int], int],
    by_id: dict[int, Place],
    terms: _Terms,
    field_of: dict[str, str],
) -> ReservationOut:
    held_back = safety.safety_for(session, terms.channel, set(field_of))
    reservation_id = new_id()
    held: set[tuple[str, int]] = set()
    # Key order: concurrent reservations wait for each other, never in a circle. A line that
    # fails raises, and the request's transaction rolls back the lines held before it.
    for sku, location_id in sorted(wanted):
        _hold(
            session,
            sku,
            by_id[location_id],
            wanted[(sku, location_id)],
            safety=held_back[sku],
            reference=str(reservation_id),
            now=terms.now,
            held=frozenset(held),
            field=field_of[sku],
        )
        held.add((sku, location_id))
    return _record(session, reservation_id, wanted, by_id, terms)


def _record(
    session: Session,
    reservation_id: uuid.UUID,
    wanted: dict[tuple[str, int], int],
    by_id: dict[int, Place],
    terms: _Terms,
) -> ReservationOut:
    """Write the reservation whose units are held."""
    now = terms.now
    expires_at = now + timedelta(seconds=terms.ttl_seconds)
    keys = sorted(wanted)
    reservation_rows.write_reservation(
        session,
        {
            "id": reservation_id,
            "channel": terms.channel,
            "status": ReservationStatus.HELD.value,
            "reference": terms.reference,
            "expires_at": expires_at,
            "created_at": now,
            "updated_at": now,
            "created_by": terms.by,
        },
        [
            {"line": n, "sku": sku, "location_id": loc, "quantity": wanted[(sku, loc)]}
            for n, (sku, loc) in enumerate(keys)
        ],
    )
    return ReservationOut(
        id=reservation_id,
        channel=terms.channel,
        status=ReservationStatus.HELD,
        reference=terms.reference,
        expires_at=expires_at,
        lines=[
            ReservationLineOut(sku=sku, location=by_id[loc].code, qty=wanted[(sku, loc)])
            for sku, loc in keys
        ],
        created_at=now,
        updated_at=now,
    )


def _hold(
    session: Session,
    sku: str,
    location: Place,
    qty: int,
    *,
    safety: int,
    reference: str,
    now: datetime,
    held: frozenset[tuple[str, int]],
    field: str,
) -> None:
    def attempt() -> ledger.Figures | None:
        return ledger.hold(session, sku, location, qty, safety=safety, reference=reference, at=now)

    if attempt() is not None:
        return
    # Holds that expired but were not swept yet do not count against a new one.
    expired = expiry.expire_due(session, at=now, key=(sku, location.id), held=held)
    if expired and attempt() is not None:
        return
    # Stock rows exist for catalog SKUs only (a foreign key): an unknown one is bad input.
    ledger.checked_sku(session, sku, field)
    current = ledger.figures(session, sku, location.id)
    raise _insufficient(sku, location.code, qty, max(0, current.available - safety))


def _insufficient(sku: str, location: str, qty: int, available: int) -> InsufficientStock:
    return InsufficientStock(
        f"{available} of {sku!r} available at {location!r}, {qty} asked",
        sku=sku,
        location=location,
        requested=qty,
        available=available,
    )


def get_reservation(session: Session, reservation_id: uuid.UUID) -> Reservation:
    reservation = session.get(Reservation, reservation_id)
    if reservation is None:
        raise ReservationNotFound(f"no reservation {reservation_id}", field="id")
    return reservation


def hold_columns(
    reservation_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
) -> tuple[ScalarSelect[str], ScalarSelect[datetime]]:
    """SQL for the status and expiry of the reservation `reservation_id` (a column of another
    module's statement), for `state_of`: a hold's state read with the row that points at it."""
    of = Reservation.id == reservation_id
    return (
        select(Reservation.status).where(of).scalar_subquery(),
        select(Reservation.expires_at).where(of).scalar_subquery(),
    )


def state_of(status: str, expires_at: datetime, now: datetime) -> ReservationStatus:
    """A reservation's status as stored, where a hold past its expiry counts as expired."""
    state = ReservationStatus(status)
    if state is ReservationStatus.HELD and expires_at <= now:
        return ReservationStatus.EXPIRED
    return state


_LINES = (
    select(ReservationLine.sku, ReservationLine.quantity, Location.id, Location.code)
    .join(Location, Location.id == ReservationLine.location_id)
    .where(ReservationLine.reservation_id == bindparam("rid"))
    .order_by(ReservationLine.sku, ReservationLine.location_id)
)


def lines_of(session: Session, reservation_id: uuid.UUID) -> list[tuple[str, int, Place]]:
    """(sku, quantity, place) of each line, in key order."""
    return [
        (sku, qty, Place(loc_id, code))
        for sku, qty, loc_id, code in session.connection().execute(_LINES, {"rid": reservation_id})
    ]


def reservation_out(session: Session, r: Reservation) -> ReservationOut:
    return ReservationOut(
        id=r.id,
        channel=r.channel,
        status=ReservationStatus(r.status),
        reference=r.reference,
        expires_at=r.expires_at,
        lines=[
            ReservationLineOut(sku=sku, location=place.code, qty=qty)
            for sku, qty, place in lines_of(session, r.id)
        ],
        created_at=r.created_at,
        updated_at=r.updated_at,
    )
