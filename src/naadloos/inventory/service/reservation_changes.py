"""A reservation's life after it is made: a hold released (a cart emptied) or allocated (an
order placed), an allocation released (an order cancelled) or fulfilled (the goods left). Each
change is claimed by one conditional UPDATE, so that of a release, an expiry and an allocation
racing for the same reservation exactly one wins; the stock figures follow in key order."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

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
from naadloos.kit.prepared import Prepared
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


# The held lines (the key order is the order stock rows are locked in), of the holds named, or
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
IDS_A_STATEMENT = 64


def _sized(ids: list[uuid.UUID]) -> dict[str, uuid.UUID]:
    """`ids` as the parameters `:r0`... of a statement for the next power of two (the last id
    repeated: `IN (a, b, b, b)` is `IN (a, b)`), so that few statements are ever compiled."""
    size = 1 << (len(ids) - 1).bit_length()
    return {f"r{i}": ids[min(i, len(ids) - 1)] for i in range(size)}


@lru_cache(maxsize=32)
def _claim_held(size: int, *, with_lines: bool) -> Prepared:
    """The holds `:r0`... still held and not expired become allocations; returns their ids,
    or (`with_lines`) their lines. A statement per size, compiled once: an expanding IN is
    rendered again at each execution (a quarter of a checkout's time)."""
    ids = [bindparam(f"r{i}", type_=RESERVATIONS.c.id.type) for i in range(size)]
    claim = (
        update(RESERVATIONS)
        .where(
            RESERVATIONS.c.id.in_(ids),
            RESERVATIONS.c.status == ReservationStatus.HELD.value,
            RESERVATIONS.c.expires_at > bindparam("now"),
        )
        .values(status=ReservationStatus.ALLOCATED.value, updated_at=bindparam("now"))
        .returning(RESERVATIONS.c.id)
    )
    if not with_lines:
        return Prepared(claim)
    claimed = claim.cte("claimed")
    return Prepared(_HELD_LINES.join(claimed, claimed.c.id == ReservationLine.reservation_id))


@lru_cache(maxsize=32)
def _lines_of(size: int) -> Prepared:
    ids = [bindparam(f"r{i}", type_=ReservationLine.reservation_id.type) for i in range(size)]
    return Prepared(_HELD_LINES.where(ReservationLine.reservation_id.in_(ids)))


def allocate_held(
    session: Session, reservation_ids: list[uuid.UUID], *, at: datetime | None = None
) -> set[uuid.UUID]:
    """`allocate` for many holds at once (a checkout): those still held and not expired become
    allocations, their lines in key order. Returns the ids that did; the others are untouched
    (lapsed, released or allocated before)."""
    now = at or utcnow()
    postgres = session.get_bind().dialect.name == "postgresql"
    claimed: set[uuid.UUID] = set()
    lines: list[tuple[Any, ...]] = []
    wanted = sorted(set(reservation_ids))
    for start in range(0, len(wanted), IDS_A_STATEMENT):
        params: dict[str, Any] = {**_sized(wanted[start : start + IDS_A_STATEMENT]), "now": now}
        size = len(params) - 1
        if postgres:
            found = _claim_held(size, with_lines=True).rows(session, params)
            claimed.update(line[0] for line in found)  # every reservation has a line
            lines += found
        else:
            claimed.update(
                row[0] for row in _claim_held(size, with_lines=False).rows(session, params)
            )
    if not postgres:
        mine = sorted(claimed)
        for start in range(0, len(mine), IDS_A_STATEMENT):
            params = _sized(mine[start : start + IDS_A_STATEMENT])
            lines += _lines_of(len(params)).rows(session, params)
    lines.sort(key=lambda line: (line[1], line[3]))  # (sku, location id): the key order
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
