from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

LocationCode = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*(:[a-z0-9][a-z0-9-]*)?$"
    ),
]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=120)]
MAX_QUANTITY = 1_000_000


class LocationKind(StrEnum):
    STORE = "store"
    WAREHOUSE = "warehouse"
    PICKUP_POINT = "pickup_point"
    LOCKER = "locker"


class LocationCapability(StrEnum):
    SELL = "sell"
    SHIP = "ship"
    PICKUP = "pickup"
    RETURNS = "returns"


DEFAULT_LOCATION_CAPABILITIES = {
    LocationKind.STORE: [
        LocationCapability.SELL,
        LocationCapability.SHIP,
        LocationCapability.PICKUP,
        LocationCapability.RETURNS,
    ],
    LocationKind.WAREHOUSE: [LocationCapability.SHIP, LocationCapability.RETURNS],
    LocationKind.PICKUP_POINT: [LocationCapability.PICKUP],
    LocationKind.LOCKER: [LocationCapability.PICKUP],
}

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: str = Field(default="", max_length=200)
    house_number: str = Field(default="", max_length=20)
    postcode: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    country: str = Field(default="NL", pattern=r"^[A-Z]{2}$")


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: LocationCode = Field(examples=["store:utrecht", "dc:tilburg"])
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    kind: LocationKind
    address: Address = Field(default_factory=Address)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180, validate_default=True)
    opening_hours: dict[str, list[Annotated[str, StringConstraints(pattern=HOURS)]]] = Field(
        default_factory=dict,
        description="Per day (mon..sun) a list of `HH:MM-HH:MM`; a day left out is closed",
        examples=[{"mon": ["09:00-18:00"], "sat": ["10:00-17:00"]}],
    )
    capabilities: list[LocationCapability] | None = Field(
        default=None, description="What it does; defaults to the kind's defaults"
    )
    channel: str | None = Field(
        default=None, max_length=100, description="A store's own sales channel (its tills)"
    )

    @field_validator("opening_hours")
    @classmethod
    def _days_and_hours(cls, hours: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(hours) - set(DAYS))
        if unknown:
            raise ValueError(f"unknown day {unknown[0]!r}; days are {', '.join(DAYS)}")
        for day, spans in hours.items():
            for span in spans:
                opens, closes = span.split("-")
                if closes <= opens:
                    raise ValueError(f"{day} {span}: it closes before it opens")
        return hours

    @field_validator("longitude")
    @classmethod
    def _both_coordinates(cls, longitude: float | None, info: ValidationInfo) -> float | None:
        if "latitude" in info.data and (info.data["latitude"] is None) != (longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return longitude


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: LocationKind
    address: dict[str, Any]
    latitude: float | None
    longitude: float | None
    opening_hours: dict[str, list[str]]
    capabilities: list[LocationCapability]
    channel: str | None
    active: bool
    created_at: datetime


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    SALE = "sale"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    DAMAGE = "damage"


class MovementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MovementKind
    sku: Sku
    location: str = Field(max_length=100)
    quantity: int = Field(
        ge=-MAX_QUANTITY,
        le=MAX_QUANTITY,
        description="Units, positive; signed for an adjustment; what was counted for a count",
    )
    reference: Reference | None = Field(
        default=None,
        description="A receipt, delivery or transfer id: the movement is recorded once per "
        "(location, kind, reference, sku), so a till may send a sale again safely",
    )
    note: str | None = Field(default=None, max_length=500)

    @field_validator("quantity")
    @classmethod
    def _fits_the_kind(cls, quantity: int, info: ValidationInfo) -> int:
        kind = info.data.get("kind")  # absent when the kind itself was invalid
        if kind is MovementKind.ADJUSTMENT:
            if quantity == 0:
                raise ValueError("an adjustment changes stock, so it is not 0")
        elif kind is MovementKind.COUNT:
            if quantity < 0:
                raise ValueError("a count is 0 or more")
        elif kind is not None and quantity <= 0:
            raise ValueError(f"a {kind} moves one unit or more")
        return quantity


class MovementOut(BaseModel):
    id: uuid.UUID
    kind: MovementKind
    sku: str
    location: str
    quantity: int = Field(description="The change of on hand")
    damaged_change: int
    on_hand_after: int | None
    flagged: bool = Field(description="It drove on hand below zero: to reconcile")
    reference: str | None
    channel: str | None
    note: str | None
    created_at: datetime
    created_by: str | None
    replayed: bool = Field(default=False, description="This reference was recorded before")


class LevelOut(BaseModel):
    sku: str
    location: str
    on_hand: int
    reserved: int
    allocated: int
    damaged: int
    available: int = Field(description="On hand - reserved - allocated, before safety stock")
    updated_at: datetime


class SafetyStockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(max_length=100)
    sku: Sku | None = Field(default=None, description="Left out: every SKU")
    quantity: int = Field(ge=0, le=MAX_QUANTITY)


class SafetyStockOut(BaseModel):
    channel: str
    sku: str | None
    quantity: int


class ReservationLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    location: str = Field(max_length=100)
    qty: int = Field(gt=0, le=MAX_QUANTITY)


class ReservationCreate(BaseModel):
    """One line (`sku`, `location`, `qty`) or several (`lines`): all are held, or none."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(max_length=100)
    ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    sku: Sku | None = None
    location: str | None = Field(default=None, max_length=100)
    qty: int | None = Field(default=None, gt=0, le=MAX_QUANTITY)
    lines: list[ReservationLineIn] | None = Field(default=None, min_length=1, max_length=200)
    reference: Reference | None = Field(default=None, description="A cart or order id")

    @model_validator(mode="after")
    def _one_form(self) -> ReservationCreate:
        single = (self.sku, self.location, self.qty)
        if self.lines is not None:
            if any(v is not None for v in single):
                raise ValueError("give sku, location and qty, or lines, not both")
        elif any(v is None for v in single):
            raise ValueError("give sku, location and qty (or lines)")
        return self

    def all_lines(self) -> list[ReservationLineIn]:
        if self.lines is not None:
            return self.lines
        if self.sku is None or self.location is None or self.qty is None:
            raise ValueError("give sku, location and qty (or lines)")
        return [ReservationLineIn(sku=self.sku, location=self.location, qty=self.qty)]


class ReservationStatus(StrEnum):
    HELD = "held"
    ALLOCATED = "allocated"
    FULFILLED = "fulfilled"
    RELEASED = "released"
    EXPIRED = "expired"


class ReservationLineOut(BaseModel):
    sku: str
    location: str
    qty: int


class ReservationOut(BaseModel):
    id: uuid.UUID
    channel: str
    status: ReservationStatus
    reference: str | None
    expires_at: datetime
    lines: list[ReservationLineOut]
    created_at: datetime
    updated_at: datetime


class LocationAvailability(BaseModel):
    location: str
    name: str
    kind: LocationKind
    available: int
    distance_km: float | None
    pickup: bool = Field(description="The customer can collect it here now")
    ship: bool = Field(description="It can be shipped from here")


class Availability(BaseModel):
    sku: str
    channel: str
    total: int
    locations: list[LocationAvailability]
