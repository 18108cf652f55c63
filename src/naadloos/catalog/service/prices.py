"""One price a variant, VAT included, with its history; explicit channel exceptions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from naadloos.catalog.events import PriceChanged
from naadloos.catalog.models import Price, ProductSearch, Variant
from naadloos.catalog.schemas import (
    PriceIn,
    PriceOut,
)
from naadloos.catalog.service import variants
from naadloos.channels import service as channels
from naadloos.kit.errors import NotFound, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.money import known_currency, vat_basis_points, vat_rate
from naadloos.kit.prepared import Prepared
from naadloos.kit.time import utcnow

K = TypeVar("K", uuid.UUID, str)  # what a price is read by: a variant's id or its SKU


class PriceNotFound(NotFound):
    code = "price_not_found"
    title = "No price"


def checked_price(price: PriceIn, field: str, now: datetime) -> None:
    """A 422 naming the field of an unknown currency or a start in the past (history is not
    rewritten)."""
    if not known_currency(price.currency):
        raise ValidationFailed.field(f"{field}.currency", f"unknown currency {price.currency!r}")
    if price.valid_from is not None and price.valid_from < now:
        raise ValidationFailed.field(f"{field}.valid_from", "a price cannot start in the past")


def _price_out(row: Price | _Current, amount: int) -> PriceOut:
    return PriceOut(
        amount=amount,
        currency=row.currency,
        vat_rate=vat_rate(row.vat_bp),
        channel=row.channel,
        valid_from=row.valid_from,
    )


def _newest(
    on_channel: ColumnElement[bool],
    ids: Any = None,
    columns: tuple[Any, ...] = (Price,),
) -> Select[Any]:
    """The newest price rows in force at `:at` per variant and channel, of `ids` (by default
    the expanding `:ids`). Built once: each call only binds its values (no statement to build,
    its cache key memoised)."""
    newest = (
        select(Price.variant_id, Price.channel, func.max(Price.valid_from).label("valid_from"))
        .where(
            Price.variant_id.in_(bindparam("ids", expanding=True) if ids is None else ids),
            on_channel,
            Price.valid_from <= bindparam("at"),
        )
        .group_by(Price.variant_id, Price.channel)
        .subquery()
    )
    return (
        select(*columns)
        .join(
            newest,
            and_(
                Price.variant_id == newest.c.variant_id,
                Price.valid_from == newest.c.valid_from,
                Price.channel.is_not_distinct_from(newest.c.channel),
            ),
        )
        .order_by(Price.created_at)  # the last written wins a tie
    )


_THE_ONE = Price.channel.is_(None)
_THE_ONE_OR_CHANNEL = or_(Price.channel.is_(None), Price.channel == bindparam("channel"))
_ONE_PRICE = _newest(_THE_ONE)
_ON_CHANNEL = _newest(Price.channel == bindparam("channel"))
_ONE_PRICE_AND_CHANNEL = _newest(_THE_ONE_OR_CHANNEL)


def _latest(
    session: Session, variant_ids: list[uuid.UUID], channel: str | None, at: datetime
) -> dict[uuid.UUID, Price]:
    """The newest price row in force at `at` per variant, for the one price or a channel."""
    if not variant_ids:
        return {}
    if channel is None:
        rows = session.scalars(_ONE_PRICE, {"ids": variant_ids, "at": at})
    else:
        rows = session.scalars(_ON_CHANNEL, {"ids": variant_ids, "at": at, "channel": channel})
    return {row.variant_id: row for row in rows}


def latest_both(
    session: Session, variant_ids: list[uuid.UUID], channel: str, at: datetime
) -> tuple[dict[uuid.UUID, Price], dict[uuid.UUID, Price]]:
    """The newest rows in force at `at` of the one price and of the channel, in one query."""
    base: dict[uuid.UUID, Price] = {}
    exceptions: dict[uuid.UUID, Price] = {}
    if variant_ids:
        params = {"ids": variant_ids, "at": at, "channel": channel}
        for row in session.scalars(_ONE_PRICE_AND_CHANNEL, params):
            (base if row.channel is None else exceptions)[row.variant_id] = row
    return base, exceptions


class _Current(NamedTuple):
    """A price row as `current_prices` reads it (no ORM object: only read, never changed)."""

    variant_id: uuid.UUID
    channel: str | None
    amount: int | None
    currency: str
    vat_bp: int
    valid_from: datetime


CURRENT_CHUNK = 200  # variants a statement


@lru_cache(maxsize=128)
def _current(size: int, on_channel: bool, by_sku: bool) -> Prepared:
    """`_newest` of the one price (and of `:channel`) for `size` variants `:k0`... (ids, or
    SKUs: then each row ends with its variant's SKU): a statement per size compiled once (an
    expanding IN cannot be prepared), read as plain rows."""
    which = _THE_ONE_OR_CHANNEL if on_channel else _THE_ONE
    columns = tuple(getattr(Price, n) for n in _Current._fields)
    if not by_sku:
        ids = [bindparam(f"k{i}", type_=Price.variant_id.type) for i in range(size)]
        return Prepared(_newest(which, ids, columns))
    skus = [bindparam(f"k{i}", type_=Variant.sku.type) for i in range(size)]
    of_skus = select(Variant.id).where(Variant.sku.in_(skus))
    return Prepared(
        _newest(which, of_skus, (*columns, Variant.sku)).join(
            Variant, Variant.id == Price.variant_id
        )
    )


def _read_current(
    session: Session, keys: Sequence[K], channel: str | None, *, by_sku: bool
) -> dict[K, PriceOut]:
    now = utcnow()
    base: dict[K, _Current] = {}
    exceptions: dict[K, _Current] = {}
    session.flush()  # prices written in this transaction count, as an execute would see them
    for start in range(0, len(keys), CURRENT_CHUNK):
        chunk = keys[start : start + CURRENT_CHUNK]
        params: dict[str, object] = {f"k{i}": key for i, key in enumerate(chunk)}
        params["at"] = now
        if channel is not None:
            params["channel"] = channel
        for found in _current(len(chunk), channel is not None, by_sku).rows(session, params):
            row = _Current(*found[:6])
            key = cast(K, found[6] if by_sku else row.variant_id)
            (base if row.channel is None else exceptions)[key] = row
    prices = {
        key: _price_out(row, row.amount) for key, row in base.items() if row.amount is not None
    }
    for key, row in exceptions.items():
        if row.amount is not None:
            prices[key] = _price_out(row, row.amount)
    return prices


def current_prices(
    session: Session, variant_ids: list[uuid.UUID], *, channel: str | None = None
) -> dict[uuid.UUID, PriceOut]:
    """The price each variant sells at now: a channel's exception if it has one, else the one
    price."""
    return _read_current(session, variant_ids, channel, by_sku=False)


def prices_by_sku(
    session: Session, skus: list[str], *, channel: str | None = None
) -> dict[str, PriceOut]:
    """`current_prices` by SKU, in the same one statement; a SKU without a price (or unknown)
    is left out."""
    return _read_current(session, skus, channel, by_sku=True)


def refresh_search_price(session: Session, product_id: uuid.UUID, now: datetime) -> None:
    """Keep the product's lowest one price on its search row (see `ProductSearch.price`).
    The row is locked first: a concurrent change of another variant's price waits, then sees
    this one."""
    row = session.scalar(
        select(ProductSearch.id).where(ProductSearch.product_id == product_id).with_for_update()
    )
    if row is None:  # a product being created: indexing it keeps its price then
        return
    ids = list(session.scalars(select(Variant.id).where(Variant.product_id == product_id)))
    current = [row.amount for row in _latest(session, ids, None, now).values()]
    scheduled = select(func.min(Price.valid_from)).where(
        Price.variant_id.in_(ids), Price.channel.is_(None), Price.valid_from > now
    )
    exception = exists().where(Price.variant_id.in_(ids), Price.channel.is_not(None))
    session.execute(
        update(ProductSearch)
        .where(ProductSearch.product_id == product_id)
        .values(
            price=min((a for a in current if a is not None), default=None),
            price_until=scheduled.scalar_subquery(),
            exceptions=exception,
        )
    )


def refresh_due_search_prices(session: Session, batch: int = 500) -> int:
    """The periodic job: search rows whose scheduled price has started get their new price."""
    now = utcnow()
    due = list(
        session.scalars(
            select(ProductSearch.product_id)
            .where(ProductSearch.price_until <= now)
            .order_by(ProductSearch.price_until)
            .limit(batch)
        )
    )
    for product_id in due:
        refresh_search_price(session, product_id, now)
    return len(due)


def price_of(session: Session, sku: str, *, channel: str | None = None) -> PriceOut:
    variant = variants.get_variant(session, sku)
    price = current_prices(session, [variant.id], channel=channel).get(variant.id)
    if price is None:
        raise PriceNotFound(f"SKU {sku!r} has no price yet", field="sku")
    return price


def append_price(
    session: Session,
    variant: Variant,
    price: PriceIn,
    *,
    channel: str | None,
    by: str | None,
    now: datetime,
) -> Price:
    """A new row in the price history: the one price, or (with `channel`) an exception."""
    return _write(
        session,
        variant,
        channel=channel,
        amount=price.amount,
        currency=price.currency,
        vat_bp=vat_basis_points(price.vat_rate),
        valid_from=price.valid_from or now,
        by=by,
        now=now,
    )


def _write(
    session: Session,
    variant: Variant,
    *,
    channel: str | None,
    amount: int | None,
    currency: str,
    vat_bp: int,
    valid_from: datetime,
    by: str | None,
    now: datetime,
) -> Price:
    row = Price(
        id=new_id(),
        variant_id=variant.id,
        channel=channel,
        amount=amount,
        currency=currency,
        vat_bp=vat_bp,
        valid_from=valid_from,
        created_at=now,
        created_by=by,
    )
    session.add(row)
    session.flush()
    refresh_search_price(session, variant.product_id, now)
    emit(
        session,
        PriceChanged(
            sku=variant.sku,
            channel=channel,
            amount=amount,
            currency=currency,
            vat_rate=str(vat_rate(vat_bp)),
            valid_from=valid_from,
        ),
    )
    return row


def set_price(
    session: Session, sku: str, price: PriceIn, *, channel: str | None, by: str | None
) -> PriceOut:
    """Set the one price of a variant, or (with `channel`) an explicit exception for one
    channel. The old price stays in the history. Setting the price it has now changes nothing."""
    variant = variants.get_variant(session, sku)
    now = utcnow()
    checked_price(price, "body", now)
    if channel is not None:
        channels.get_channel(session, channel, field="channel")
    if price.valid_from is None:
        current = _latest(session, [variant.id], channel, now).get(variant.id)
        if (
            current is not None
            and current.amount is not None
            and current.amount == price.amount
            and current.currency == price.currency
            and current.vat_bp == vat_basis_points(price.vat_rate)
        ):
            return _price_out(current, current.amount)
    base = _latest(session, [variant.id], None, price.valid_from or now).get(variant.id)
    if channel is not None and base is not None and base.currency != price.currency:
        raise ValidationFailed.field(
            "body.currency",
            f"the variant's one price is in {base.currency}, not {price.currency}",
        )
    row = append_price(session, variant, price, channel=channel, by=by, now=now)
    return _price_out(row, price.amount)


def end_exception(session: Session, sku: str, channel: str, *, by: str | None) -> None:
    """The channel sells at the one price again."""
    variant = variants.get_variant(session, sku)
    now = utcnow()
    current = _latest(session, [variant.id], channel, now).get(variant.id)
    if current is None or current.amount is None:
        raise PriceNotFound(
            f"channel {channel!r} has no price exception for {sku!r}", field="channel"
        )
    _write(  # an exception ends with a row without an amount
        session,
        variant,
        channel=channel,
        amount=None,
        currency=current.currency,
        vat_bp=current.vat_bp,
        valid_from=now,
        by=by,
        now=now,
    )
