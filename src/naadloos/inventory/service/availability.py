"""Available to promise, per location and in total, for a channel: on hand - reserved -
allocated - the channel's safety stock, never below zero."""

from __future__ import annotations

import math
from typing import TypedDict

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from naadloos.channels import service as channels
from naadloos.inventory.models import Location, StockLevel
from naadloos.inventory.schemas import LocationCapability
from naadloos.inventory.service import ledger
from naadloos.kit.errors import ValidationFailed

EARTH_RADIUS_KM = 6371.0088
PICKUP, SHIP = LocationCapability.PICKUP.value, LocationCapability.SHIP.value


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def parse_near(near: str) -> tuple[float, float]:
    try:
        lat_text, lon_text = near.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError as exc:
        raise ValidationFailed.field("near", "give `lat,lon`, e.g. 52.0907,5.1214") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed.field("near", "latitude is -90..90 and longitude -180..180")
    return lat, lon


# Built once: the hot path binds values into a cached statement and skips the ORM. One round
# trip: the rows, each with what the channel holds back of the SKU (its safety stock).
_ROWS = (
    select(
        Location.code,
        Location.name,
        Location.kind,
        Location.latitude,
        Location.longitude,
        Location.capabilities,
        StockLevel.on_hand - StockLevel.reserved - StockLevel.allocated,
        ledger.held_back(bindparam("channel"), StockLevel.sku),
    )
    .join(StockLevel, StockLevel.location_id == Location.id)
    .where(StockLevel.sku == bindparam("sku"), Location.active.is_(True))
)


class LocationRow(TypedDict):
    location: str
    name: str
    kind: str
    available: int
    distance_km: float | None
    pickup: bool
    ship: bool


class AvailabilityRows(TypedDict):
    """The shape of `schemas.Availability`, as plain data: the hot path builds and serialises
    it without model objects (the response model documents it)."""

    sku: str
    channel: str
    total: int
    locations: list[LocationRow]


def availability(
    session: Session,
    sku: str,
    channel: str,
    *,
    near: tuple[float, float] | None = None,
    radius_km: float | None = None,
) -> AvailabilityRows:
    if radius_km is not None and near is None:
        raise ValidationFailed.field("radius_km", "a radius needs `near`")
    if not channels.channel_exists(session, channel):
        channels.get_channel(session, channel, field="channel")  # raises the 404
    rows = session.connection().execute(_ROWS, {"sku": sku, "channel": channel}).all()
    if not rows:  # stock rows exist for catalog SKUs only (a foreign key): is this one known?
        ledger.checked_sku(session, sku, "sku")
    places: list[LocationRow] = []
    for code, name, kind, lat, lon, capabilities, free, held_back in rows:
        distance = None
        if near is not None:
            if lat is None or lon is None:
                continue  # a place without coordinates is not near anything
            distance = round(distance_km(near[0], near[1], lat, lon), 3)
            if radius_km is not None and distance > radius_km:
                continue
        available = max(0, free - held_back)
        places.append(
            {
                "location": code,
                "name": name,
                "kind": kind,
                "available": available,
                "distance_km": distance,
                "pickup": available > 0 and PICKUP in capabilities,
                "ship": available > 0 and SHIP in capabilities,
            }
        )
    places.sort(key=lambda p: (p["distance_km"] or 0.0, p["location"]))
    return {
        "sku": sku,
        "channel": channel,
        "total": sum(p["available"] for p in places),
        "locations": places,
    }
