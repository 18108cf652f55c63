from __future__ import annotations

from naadloos.kit.events import Event


class StockChanged(Event):
    """The figures of a SKU at a location after a change, and what changed them."""

    sku: str
    location: str
    on_hand: int
    reserved: int
    allocated: int
    damaged: int
    available: int
    cause: str  # a movement kind, or reserved, released, expired, allocated, fulfilled
    reference: str | None


class OutOfStock(Event):
    """Nothing is available any more at the location (before safety stock)."""

    sku: str
    location: str


class BackInStock(Event):
    """Units are available again at the location (before safety stock)."""

    sku: str
    location: str
    available: int
