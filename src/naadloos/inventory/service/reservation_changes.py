"""A reservation's life after it is made: a hold released (a cart emptied) or allocated (an
order placed), an allocation released (an order cancelled) or fulfilled (the goods left). Each
change is claimed by one conditional UPDATE, so that of a release, an expiry and an allocation
racing for the same reservation exactly one wins; the stock figures follow in key order."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from naadloos.inventory.models import Location, Reservation, ReservationLine
from naadloos.inventory.schemas import ReservationOut, ReservationStatus
from naadloos.inventory.service import ledger, movements
from naadloos.inventory.service.locations import Place
from naadloos.inventory.service.reservations import (
    RESERVATIONS,
    ReservationClosed,
    get_reservation,
    lines_of,
    reservation_out,
)
from naadloos.kit.time import utcnow


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
    for sku, qty, place in lines_of(session, reservation_id):
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
    for sku, qty, place in lines_of(session, reservation_id):
        movements.record_fulfilment(
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
