"""Safety stock: units a channel leaves alone at every location, for one SKU or for all."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from naadloos.channels import service as channels
from naadloos.inventory.models import SafetyStock
from naadloos.inventory.schemas import SafetyStockIn, SafetyStockOut
from naadloos.inventory.service import ledger
from naadloos.kit.time import utcnow

ALL_SKUS = ledger.ALL_SKUS


def set_safety_stock(session: Session, data: SafetyStockIn) -> SafetyStockOut:
    """Units `channel` leaves alone at every location, for one SKU or (no SKU) for all."""
    channels.get_channel(session, data.channel, field="channel")
    if data.sku is not None:
        ledger.checked_sku(session, data.sku, "sku")
    key = data.sku or ALL_SKUS
    existing = session.get(SafetyStock, (data.channel, key))
    if data.quantity == 0:
        if existing is not None:
            session.delete(existing)
    elif existing is None:
        session.add(
            SafetyStock(channel=data.channel, sku=key, quantity=data.quantity, updated_at=utcnow())
        )
    else:
        existing.quantity, existing.updated_at = data.quantity, utcnow()
    session.flush()
    return SafetyStockOut(channel=data.channel, sku=data.sku, quantity=data.quantity)


_SAFETY = select(SafetyStock.sku, SafetyStock.quantity).where(
    SafetyStock.channel == bindparam("channel"),
    SafetyStock.sku.in_(bindparam("skus", expanding=True)),
)


def safety_for(session: Session, channel: str, skus: set[str]) -> dict[str, int]:
    """The safety stock of `channel` for each SKU (0 where none is set)."""
    rows = dict(
        session.connection()
        .execute(_SAFETY, {"channel": channel, "skus": [*sorted(skus), ALL_SKUS]})
        .all()
    )
    default = rows.get(ALL_SKUS, 0)
    return {sku: rows.get(sku, default) for sku in skus}
