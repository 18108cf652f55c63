"""Product search with stock: the catalog's search, told by inventory what is available where
(available to promise, as `/v1/availability` counts it: the channel's safety stock held back)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from naadloos.catalog.schemas import SearchResult
from naadloos.catalog.service import search as catalog
from naadloos.inventory.models import Location, StockLevel
from naadloos.inventory.service import ledger, locations


def _available(channel: str | None) -> ColumnElement[int]:
    """Available to promise of the stock row of the enclosing query."""
    free = StockLevel.on_hand - StockLevel.reserved - StockLevel.allocated
    return free if channel is None else free - ledger.held_back(channel, StockLevel.sku)


def search(
    session: Session,
    query: catalog.SearchQuery,
    *,
    in_stock_at: str | None = None,
    location_facet: bool = False,
) -> SearchResult:
    """Search the catalog; `in_stock_at` keeps the products available at that location, and
    `location_facet` counts the matches available at each active location."""
    available = _available(query.channel)
    in_stock: catalog.InStock | None = None
    if in_stock_at is not None:
        place = locations.get_location(session, in_stock_at, field="in_stock_at")

        def in_stock(sku: ColumnElement[str]) -> ColumnElement[bool]:
            return (
                select(StockLevel.sku)
                .where(StockLevel.sku == sku, StockLevel.location_id == place.id, available > 0)
                .exists()
            )

    stocked = None
    if location_facet:
        stocked = (
            select(StockLevel.sku.label("sku"), Location.code.label("location"))
            .join(Location, Location.id == StockLevel.location_id)
            .where(Location.active.is_(True), available > 0)
            .subquery("stocked")
        )
    return catalog.search(session, query, catalog.Stock(in_stock=in_stock, stocked=stocked))
