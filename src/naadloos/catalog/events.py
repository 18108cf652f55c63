from __future__ import annotations

from datetime import datetime

from naadloos.kit.events import Event


class ProductCreated(Event):
    code: str
    name: str
    skus: list[str]


class ProductUpdated(Event):
    """Fields of a product changed; `fields` names them."""

    code: str
    fields: list[str]


class PriceChanged(Event):
    """A new price for a variant: the one price (`channel` None) or a channel's exception.
    `amount` None ends that channel's exception."""

    sku: str
    channel: str | None
    amount: int | None
    currency: str
    vat_rate: str
    valid_from: datetime
