"""The figures per (sku, location), for people: a page at a time, or only those below zero."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.inventory.models import Location, StockLevel
from naadloos.inventory.schemas import LevelOut
from naadloos.kit.pagination import PageParams, decode_cursor, encode_cursor


def list_levels(
    session: Session,
    page: PageParams,
    *,
    sku: str | None,
    location: str | None,
    negative: bool = False,
) -> tuple[list[LevelOut], str | None]:
    """Figures per (sku, location), by SKU then location code."""
    stmt = select(StockLevel, Location.code).join(Location, Location.id == StockLevel.location_id)
    if sku is not None:
        stmt = stmt.where(StockLevel.sku == sku)
    if location is not None:
        stmt = stmt.where(Location.code == location)
    if negative:
        stmt = stmt.where(StockLevel.on_hand < 0)
    if page.cursor is not None:
        after_sku, after_code = decode_cursor(page.cursor)
        stmt = stmt.where(
            (StockLevel.sku > after_sku)
            | ((StockLevel.sku == after_sku) & (Location.code > after_code))
        )
    rows = session.execute(stmt.order_by(StockLevel.sku, Location.code).limit(page.limit + 1)).all()
    out = [
        LevelOut(
            sku=level.sku,
            location=code,
            on_hand=level.on_hand,
            reserved=level.reserved,
            allocated=level.allocated,
            damaged=level.damaged,
            available=level.on_hand - level.reserved - level.allocated,
            updated_at=level.updated_at,
        )
        for level, code in rows[: page.limit]
    ]
    cursor = encode_cursor([out[-1].sku, out[-1].location]) if len(rows) > page.limit else None
    return out, cursor
