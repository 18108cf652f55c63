"""Why a one-line hold held nothing, in one statement, for the common answer: too little stock.

A hold is one conditional UPDATE (`ledger.hold_for_channel`); when it changes no row, the
reason may be an unknown SKU or location, holds that lapsed but were not swept yet (their units
count again), or simply too little. The general path finds out which in four or five
statements. In a sale that runs out, almost every refusal is the last case: this reads the
stock row, the channel's safety stock and whether any lapsed hold is left at the row, and
says so when it is plainly too little. Anything else (no stock row, a closed or unknown
location, a lapsed hold to sweep, or stock that was freed since the UPDATE) it leaves to the
general path.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, exists, select
from sqlalchemy.orm import Session

from naadloos.inventory.models import Location, Reservation, ReservationLine
from naadloos.inventory.schemas import ReservationStatus
from naadloos.inventory.service.ledger import LEVELS, held_back
from naadloos.inventory.service.locations import Place
from naadloos.kit.prepared import Prepared


class Short(NamedTuple):
    """Too little of a SKU at a location: what the channel may still take there."""

    place: Place
    available: int


def _why(location: ColumnElement[bool]) -> Prepared:
    lapsed = exists().where(
        Reservation.status == ReservationStatus.HELD.value,
        Reservation.expires_at <= bindparam("now"),
        exists().where(
            ReservationLine.reservation_id == Reservation.id,
            ReservationLine.sku == LEVELS.c.sku,
            ReservationLine.location_id == LEVELS.c.location_id,
        ),
    )
    return Prepared(
        select(
            Location.id,
            Location.code,
            LEVELS.c.on_hand
            - LEVELS.c.reserved
            - LEVELS.c.allocated
            - held_back(bindparam("channel"), LEVELS.c.sku),
            lapsed,
        )
        .select_from(LEVELS)
        .join(Location, Location.id == LEVELS.c.location_id)
        .where(and_(LEVELS.c.sku == bindparam("sku"), location))
    )


# At a location the caller resolved (a cart's), or at the open location with this code (as
# `ledger.hold_for_channel` holds).
_AT = _why(Location.id == bindparam("location_id"))
_AT_CODE = _why(and_(Location.code == bindparam("code"), Location.active.is_(True)))


def plainly_short(
    session: Session, sku: str, location: Place | str, qty: int, *, channel: str, at: datetime
) -> Short | None:
    """What is available when a hold of `qty` failed for too little stock and nothing else;
    None when the general path must find out why (see the module)."""
    params = {"sku": sku, "channel": channel, "now": at}
    if isinstance(location, Place):
        row = _AT.first(session, {**params, "location_id": location.id})
    else:
        row = _AT_CODE.first(session, {**params, "code": location})
    if row is None:
        return None
    location_id, code, available, lapsed = row
    if lapsed or available >= qty:
        return None
    return Short(Place(location_id, code), max(0, available))
