from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import ColumnElement, ScalarSelect, bindparam, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from naadloos.channels import service as channels
from naadloos.inventory.models import Location
from naadloos.inventory.schemas import (
    DEFAULT_LOCATION_CAPABILITIES,
    LocationCapability,
    LocationCreate,
    LocationKind,
)
from naadloos.kit.bulk import lookup
from naadloos.kit.errors import AlreadyExists, NotFound, ValidationFailed
from naadloos.kit.pagination import PageParams, paginate
from naadloos.kit.prepared import Prepared
from naadloos.kit.rows import memo
from naadloos.kit.time import utcnow


class LocationNotFound(NotFound):
    code = "location_not_found"
    title = "Location not found"


class LocationExists(AlreadyExists):
    code = "location_exists"
    title = "Location already exists"


def create_location(session: Session, data: LocationCreate) -> Location:
    if session.scalar(select(Location.id).where(Location.code == data.code)) is not None:
        raise LocationExists(f"a location with code {data.code!r} exists", field="code")
    if data.channel is not None:
        channels.get_channel(session, data.channel, field="channel")
    capabilities = (
        DEFAULT_LOCATION_CAPABILITIES[data.kind] if data.capabilities is None else data.capabilities
    )
    if data.kind in (LocationKind.PICKUP_POINT, LocationKind.LOCKER) and (
        LocationCapability.SELL in capabilities
    ):
        raise ValidationFailed.field("capabilities", f"a {data.kind} does not sell")
    location = Location(
        code=data.code,
        name=data.name,
        kind=data.kind.value,
        address=data.address.model_dump(),
        latitude=data.latitude,
        longitude=data.longitude,
        opening_hours=data.opening_hours,
        capabilities=[c.value for c in LocationCapability if c in set(capabilities)],
        channel=data.channel,
        active=True,
        created_at=utcnow(),
    )
    session.add(location)
    session.flush()
    return location


def get_location(session: Session, code: str, *, field: str = "code") -> Location:
    location = session.scalar(select(Location).where(Location.code == code))
    if location is None:
        raise LocationNotFound(f"no location with code {code!r}", field=field)
    return location


def of_channel(session: Session, channel: str) -> Location | None:
    """The location whose sales channel is `channel` (a store's till channel), if any."""
    return session.scalars(
        select(Location).where(Location.channel == channel).order_by(Location.id)
    ).first()


_OF_CODE = Prepared(
    select(Location.id, Location.code, Location.active, Location.capabilities).where(
        Location.code == bindparam("code")
    )
)


def place_that(
    session: Session, code: str, capability: LocationCapability, *, field: str, unable: str
) -> Place:
    """The open location with this code that does `capability` (one statement); a 422
    naming `field` otherwise (`unable`: what a closed one or one without it does not do)."""
    row = _OF_CODE.first(session, {"code": code})
    if row is None:
        raise ValidationFailed.field(field, f"no location with code {code!r}")
    location_id, _, active, capabilities = row
    if not active or capability.value not in capabilities:
        raise ValidationFailed.field(field, f"{code!r} {unable}")
    place = Place(location_id, code)
    remember_codes(session, [place])
    return place


def list_locations(
    session: Session, page: PageParams, *, kind: LocationKind | None = None
) -> tuple[list[Location], str | None]:
    stmt = select(Location)
    if kind is not None:
        stmt = stmt.where(Location.kind == kind.value)
    rows, cursor = paginate(session, stmt, Location.code, page)
    return list(rows), cursor


class Place(NamedTuple):
    """What the ledger needs of a location."""

    id: int
    code: str


_BY_CODES = select(Location.id, Location.code, Location.active).where(
    Location.code.in_(bindparam("codes", expanding=True))
)


def resolve(session: Session, codes: Iterable[tuple[str, str]]) -> dict[str, Place]:
    """Active locations by code for (code, field) pairs; a 422 naming the field of an unknown
    or inactive one."""
    wanted = list(codes)
    found = {
        code: (Place(id_, code), active)
        for id_, code, active in session.connection().execute(
            _BY_CODES, {"codes": sorted({c for c, _ in wanted})}
        )
    }
    for code, field in wanted:
        if code not in found:
            raise ValidationFailed.field(field, f"no location with code {code!r}")
        if not found[code][1]:
            raise ValidationFailed.field(field, f"location {code!r} is closed")
    places = {code: place for code, (place, _) in found.items()}
    remember_codes(session, places.values())
    return places


def code_of(location_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[str]:
    """SQL for the code of the location `location_id` (a column of another module's
    statement)."""
    return select(Location.code).where(Location.id == location_id).scalar_subquery()


def remember_codes(session: Session, places: Iterable[Place]) -> None:
    """Codes read in this transaction: `codes_of` answers them without a statement (a
    location's code never changes)."""
    memo(session, _CODES).update(places)


_CODES = "location_codes"


def codes_of(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Location codes by id."""
    known = memo(session, _CODES)
    wanted = sorted(set(ids))
    missing = [(i,) for i in wanted if i not in known]
    if missing:
        known.update(lookup(session, [Location.id, Location.code], [Location.id], missing))
    return {i: known[i] for i in wanted if i in known}


def by_codes(session: Session, codes: Iterable[str]) -> dict[str, Location]:
    """Locations by code, in one query; unknown codes are left out."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    return {x.code: x for x in session.scalars(select(Location).where(Location.code.in_(wanted)))}
