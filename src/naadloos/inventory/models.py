from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from naadloos.kit.db import Base, UTCDateTime


class Location(Base):
    """A place that holds stock: a store, a warehouse, a pickup point or a locker."""

    __tablename__ = "locations"

    # A small integer key: locations are few, and their key is in every row of the largest table.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    capabilities: Mapped[list[str]] = mapped_column(JSON)
    channel: Mapped[str | None] = mapped_column(String(100))  # the store's own sales channel
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockLevel(Base):
    """The figures of one SKU at one location, kept atomically with the ledger (conditional
    UPDATEs in the ledger's transaction; DESIGN rule 4). Available = on hand - reserved -
    allocated (- a channel's safety stock)."""

    __tablename__ = "stock_levels"

    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    damaged: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockMovement(Base):
    """The ledger, append-only: every change of on hand (and damaged), with who, why and when.
    A movement with a `reference` (a till's receipt id) is recorded once."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index(
            "uq_stock_movements_reference",
            "location_id",
            "kind",
            "reference",
            "sku",
            unique=True,
            sqlite_where=text("reference IS NOT NULL"),
            postgresql_where=text("reference IS NOT NULL"),
        ),
        Index("ix_stock_movements_sku_location", "sku", "location_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)  # the change of on hand, signed
    damaged_change: Mapped[int] = mapped_column(Integer, default=0)
    on_hand_after: Mapped[int | None] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    reference: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))


class SafetyStock(Base):
    """Units a channel leaves alone at every location: `sku` '*' for all SKUs."""

    __tablename__ = "safety_stock"

    channel: Mapped[str] = mapped_column(String(100), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reservation(Base):
    """Holds on stock for a channel (a cart), all lines or none; they expire unless released,
    allocated (an order) or fulfilled (the goods left)."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_status_expires", "status", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))


class ReservationLine(Base):
    __tablename__ = "reservation_lines"

    reservation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reservations.id"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int] = mapped_column(Integer)
