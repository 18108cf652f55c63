"""Holds on stock with a time to live. A reservation's lines are held all or none: each line is
one conditional UPDATE in key order (sku, location id) in the request's transaction, and a line
that finds too little raises, so the transaction rolls back every line before it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, bindparam, select, update
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
    """One line held in one statement (location, safety stock and hold). When it held nothing
    and there is plainly too little, the refusal costs one statement more; None otherwise: the
    general path then finds out why (unknown location, expired holds)."""
    reservation_id = new_id()
    place = ledger.hold_for_channel(
        session,
        sku,
        location,
        qty,
        channel=terms.channel,
        reference=str(reservation_id),
        at=terms.now,
    )
    if place is None:
        short = shortfall.plainly_short(
            session, sku, location, qty, channel=terms.channel, at=terms.now
        )
        if short is not None:
            raise _insufficient(sku, short.place.code, qty, short.available)
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


def _lines(session: Session, reservation_id: uuid.UUID) -> list[tuple[str, int, Place]]:
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
            for sku, qty, place in _lines(session, r.id)
        ],
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _move(
    session: Session,
    reservation_id: uuid.UUID,
    *,
    to: ReservationStatus,
    allowed: tuple[ReservationStatus, ...],
    now: datetime,
    not_expired: bool = False,
) -> ReservationStatus:
    """Claim the status change with one conditional UPDATE, so that of a release, an expiry and
    an allocation racing for the same reservation exactly one wins. Returns the status before."""
    reservation = get_reservation(session, reservation_id)
    for status in allowed:
        condition = [
            RESERVATIONS.c.id == reservation_id,
            RESERVATIONS.c.status == status.value,
        ]
        if not_expired:
            condition.append(RESERVATIONS.c.expires_at > now)
        claimed = session.execute(
            update(RESERVATIONS)
            .where(*condition)
            .values(status=to.value, updated_at=now)
            .returning(RESERVATIONS.c.id)
        ).first()
        if claimed is not None:
            session.refresh(reservation)
            return status
    session.refresh(reservation)
    raise _refusal(reservation, to, now=now, not_expired=not_expired)


def _refusal(
    reservation: Reservation, to: ReservationStatus, *, now: datetime, not_expired: bool
) -> ReservationClosed:
    """Why the reservation, as it is now, could not become `to`."""
    if (
        not_expired
        and reservation.status == ReservationStatus.HELD
        and reservation.expires_at <= now
    ):
        return ReservationClosed(
            f"reservation {reservation.id} expired at {reservation.expires_at.isoformat()}",
            reservation_status="expired",
        )
    return ReservationClosed(
        f"reservation {reservation.id} is {reservation.status}; it cannot become {to}",
        reservation_status=reservation.status,
    )


def release(
    session: Session, reservation_id: uuid.UUID, *, at: datetime | None = None
) -> ReservationOut:
    """Give the units back: a hold (a cart emptied) or an allocation (an order cancelled)."""
    now = at or utcnow()
    was = _move(
        session,
        reservation_id,
        to=ReservationStatus.RELEASED,
        allowed=(ReservationStatus.HELD, ReservationStatus.ALLOCATED),
        now=now,
    )
    for sku, qty, place in _lines(session, reservation_id):
        changes = {"reserved" if was is ReservationStatus.HELD else "allocated": -qty}
        ledger.change(
            session,
            sku,
            place,
            cause="released",
            reference=str(reservation_id),
            at=now,
            **changes,
        )
    return reservation_out(session, get_reservation(session, reservation_id))


def allocate(
    session: Session, reservation_id: uuid.UUID, *, at: datetime | None = None
) -> ReservationOut:
    """Turn a hold into an allocation (an order placed): it no longer expires."""
    now = at or utcnow()
    reservation = get_reservation(session, reservation_id)
    claimed = allocate_held(session, [reservation_id], at=now)
    session.refresh(reservation)
    if not claimed:
        raise _refusal(reservation, ReservationStatus.ALLOCATED, now=now, not_expired=True)
    return reservation_out(session, reservation)


_CLAIM_HELD = (
    update(RESERVATIONS)
    .where(
        RESERVATIONS.c.id.in_(bindparam("ids", expanding=True)),
        RESERVATIONS.c.status == ReservationStatus.HELD.value,
        RESERVATIONS.c.expires_at > bindparam("now"),
    )
    .values(status=ReservationStatus.ALLOCATED.value, updated_at=bindparam("now"))
    .returning(RESERVATIONS.c.id)
)
# The held lines in key order (the order stock rows are locked in), of the holds `ids`, or
# (PostgreSQL) of those the claim took: the claim and the read in one statement, a
# data-modifying CTE.
_HELD_LINES = select(
    ReservationLine.reservation_id,
    ReservationLine.sku,
    ReservationLine.quantity,
    Location.id,
    Location.code,
).join(Location, Location.id == ReservationLine.location_id)
_KEY_ORDER = (ReservationLine.sku, ReservationLine.location_id)
_LINES_OF = _HELD_LINES.where(
    ReservationLine.reservation_id.in_(bindparam("ids", expanding=True))
).order_by(*_KEY_ORDER)
_CLAIMED = _CLAIM_HELD.cte("claimed")
_CLAIM_WITH_LINES = _HELD_LINES.join(
    _CLAIMED, _CLAIMED.c.id == ReservationLine.reservation_id
).order_by(*_KEY_ORDER)


def allocate_held(
    session: Session, reservation_ids: list[uuid.UUID], *, at: datetime | None = None
) -> set[uuid.UUID]:
    """`allocate` for many holds at once (a checkout): those still held and not expired become
    allocations, their lines in key order. Returns the ids that did; the others are untouched
    (lapsed, released or allocated before)."""
    if not reservation_ids:
        return set()
    now = at or utcnow()
    connection = session.connection()
    params = {"ids": reservation_ids, "now": now}
    if connection.dialect.name == "postgresql":
        lines = connection.execute(_CLAIM_WITH_LINES, params).all()
        claimed = {line[0] for line in lines}  # every reservation has a line
    else:
        claimed = set(connection.execute(_CLAIM_HELD, params).scalars())
        if not claimed:
            return claimed
        lines = connection.execute(_LINES_OF, {"ids": sorted(claimed)}).all()
    for rid, sku, qty, loc_id, code in lines:
        ledger.change(
            session,
            sku,
            Place(loc_id, code),
            cause="allocated",
            reference=str(rid),
            reserved=-qty,
            allocated=qty,
            at=now,
        )
    return claimed


def fulfil(
    session: Session, reservation_id: uuid.UUID, *, by: str | None, at: datetime | None = None
) -> ReservationOut:
    """The allocated goods left the location (shipped or collected): a sale in the ledger."""
    now = at or utcnow()
    reservation = get_reservation(session, reservation_id)
    _move(
        session,
        reservation_id,
        to=ReservationStatus.FULFILLED,
        allowed=(ReservationStatus.ALLOCATED,),
        now=now,
    )
    for sku, qty, place in _lines(session, reservation_id):
        ledger.record_fulfilment(
            session,
            sku,
            place,
            qty,
            reference=str(reservation_id),
            channel=reservation.channel,
            by=by,
            at=now,
        )
    return reservation_out(session, get_reservation(session, reservation_id))
