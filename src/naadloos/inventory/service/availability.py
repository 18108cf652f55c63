"""Available to promise, per location and in total, for a channel: on hand - reserved -
allocated - the channel's safety stock, never below zero."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.channels import service as channels
from naadloos.inventory.models import Location, StockLevel
from naadloos.inventory.schemas import (
    Availability,
    LocationAvailability,
    LocationCapability,
    LocationKind,
)
from naadloos.inventory.service import ledger
from naadloos.kit.errors import ValidationFailed

EARTH_RADIUS_KM = 6371.0088


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


def availability(
    session: Session,
    sku: str,
    channel: str,
    *,
    near: tuple[float, float] | None = None,
    radius_km: float | None = None,
) -> Availability:
    ledger.checked_sku(session, sku, "sku")
    channels.get_channel(session, channel, field="channel")
    if radius_km is not None and near is None:
        raise ValidationFailed.field("radius_km", "a radius needs `near`")
    safety = ledger.safety_for(session, channel, {sku})[sku]
    rows = session.execute(
        select(
            Location.code,
            Location.name,
            Location.kind,
            Location.latitude,
            Location.longitude,
            Location.capabilities,
            StockLevel.on_hand - StockLevel.reserved - StockLevel.allocated,
        )
        .join(StockLevel, StockLevel.location_id == Location.id)
        .where(StockLevel.sku == sku, Location.active.is_(True))
    ).all()
    places: list[LocationAvailability] = []
    for code, name, kind, lat, lon, capabilities, free in rows:
        distance = None
        if near is not None:
            if lat is None or lon is None:
                continue  # a place without coordinates is not near anything
            distance = round(distance_km(near[0], near[1], lat, lon), 3)
            if radius_km is not None and distance > radius_km:
                continue
        available = max(0, free - safety)
        places.append(
            LocationAvailability(
                location=code,
                name=name,
                kind=LocationKind(kind),
                available=available,
                distance_km=distance,
                pickup=available > 0 and LocationCapability.PICKUP in capabilities,
                ship=available > 0 and LocationCapability.SHIP in capabilities,
            )
        )
    places.sort(key=lambda p: (p.distance_km or 0.0, p.location))
    return Availability(
        sku=sku, channel=channel, total=sum(p.available for p in places), locations=places
    )
