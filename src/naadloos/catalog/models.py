from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from naadloos.kit.db import Base, UTCDateTime


class Product(Base):
    __tablename__ = "products"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str | None] = mapped_column(String(120), index=True)
    category: Mapped[str | None] = mapped_column(String(200), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    media: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Variant(Base):
    """What is sold and stocked: one SKU, at most one GTIN."""

    __tablename__ = "variants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    gtin: Mapped[str | None] = mapped_column(String(14))  # as printed on the label
    gtin14: Mapped[str | None] = mapped_column(String(14), unique=True)  # zero-padded, for lookup
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Price(Base):
    """The price history, append-only. `channel` NULL is the one price of every channel; a row
    with a channel is an explicit exception, ended by a row with `amount` NULL."""

    __tablename__ = "prices"
    __table_args__ = (
        Index("ix_prices_variant_channel_from", "variant_id", "channel", "valid_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id"))
    channel: Mapped[str | None] = mapped_column(String(100))
    amount: Mapped[int | None] = mapped_column(Integer)  # minor units, VAT included
    currency: Mapped[str] = mapped_column(String(3))
    vat_bp: Mapped[int] = mapped_column(Integer)  # VAT rate in basis points: 2100 = 21%
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))


class ProductSearch(Base):
    """The analysed text of a product (`catalog.analysis`), one row a product. The full-text
    index over it is the database's own and made by migration 0006: an FTS5 table kept in step
    by triggers on SQLite, a GIN index on PostgreSQL (ADR 0008)."""

    __tablename__ = "product_search"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # FTS5 rowid
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), unique=True)
    name: Mapped[str] = mapped_column(Text)
    brand: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    codes: Mapped[str] = mapped_column(Text)
    attributes: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    # The lowest one price of the variants, kept with every price change so that filters,
    # sorts and facets do not work out each price: valid until `price_until` (the next
    # scheduled price), and for a channel only when the product has no `exceptions`.
    price: Mapped[int | None] = mapped_column(Integer)
    price_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    exceptions: Mapped[bool] = mapped_column(Boolean, default=False)
