"""What the back office reads about prices: a variant's history, and the channel exceptions in
force (`GET /v1/prices/exceptions`), each beside the one price it deviates from."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.catalog.models import Price, Variant
from naadloos.catalog.schemas import PriceException, PriceVersion
from naadloos.catalog.service import prices, variants
from naadloos.kit.money import vat_rate
from naadloos.kit.time import utcnow


def price_history(session: Session, sku: str) -> list[PriceVersion]:
    variant = variants.get_variant(session, sku)
    rows = session.scalars(
        select(Price)
        .where(Price.variant_id == variant.id)
        .order_by(Price.valid_from.desc(), Price.created_at.desc())
    )
    return [
        PriceVersion(
            amount=r.amount,
            currency=r.currency,
            vat_rate=vat_rate(r.vat_bp),
            channel=r.channel,
            valid_from=r.valid_from,
            created_at=r.created_at,
            created_by=r.created_by,
        )
        for r in rows
    ]


def price_exceptions(session: Session, *, channel: str | None = None) -> list[PriceException]:
    """Every channel exception in force now, with the one price it deviates from."""
    now = utcnow()
    stmt = select(Price.variant_id, Price.channel).where(Price.channel.is_not(None))
    if channel is not None:
        stmt = stmt.where(Price.channel == channel)
    pairs = session.execute(stmt.distinct()).all()
    by_channel: dict[str, list[uuid.UUID]] = {}
    for vid, ch in pairs:
        if ch is not None:
            by_channel.setdefault(ch, []).append(vid)
    out: list[PriceException] = []
    skus = dict(
        session.execute(
            select(Variant.id, Variant.sku).where(Variant.id.in_([v for v, _ in pairs]))
        ).all()
    )
    for ch, ids in sorted(by_channel.items()):
        base, exceptions = prices.latest_both(session, ids, ch, now)
        for vid, row in exceptions.items():
            if row.amount is None:
                continue
            base_row = base.get(vid)
            out.append(
                PriceException(
                    sku=skus[vid],
                    channel=ch,
                    amount=row.amount,
                    currency=row.currency,
                    vat_rate=vat_rate(row.vat_bp),
                    valid_from=row.valid_from,
                    base_amount=base_row.amount if base_row else None,
                )
            )
    return sorted(out, key=lambda e: (e.channel, e.sku))
