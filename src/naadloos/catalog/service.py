"""Use cases of the catalog. Services flush; the request or job boundary commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from naadloos.catalog import gtin as gtins
from naadloos.catalog.events import PriceChanged, ProductCreated
from naadloos.catalog.models import Price, Product, Variant
from naadloos.catalog.schemas import (
    PriceException,
    PriceIn,
    PriceOut,
    PriceVersion,
    ProductCreate,
    ProductOut,
    VariantOut,
)
from naadloos.channels import service as channels
from naadloos.kit.errors import AlreadyExists, NotFound, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.money import known_currency, vat_basis_points, vat_rate
from naadloos.kit.pagination import PageParams, paginate
from naadloos.kit.time import utcnow


class ProductNotFound(NotFound):
    code = "product_not_found"
    title = "Product not found"


class VariantNotFound(NotFound):
    code = "variant_not_found"
    title = "No variant with that SKU or GTIN"


class PriceNotFound(NotFound):
    code = "price_not_found"
    title = "No price"


class ProductExists(AlreadyExists):
    code = "product_exists"
    title = "Product already exists"


class SkuExists(AlreadyExists):
    code = "sku_exists"
    title = "SKU already exists"


class GtinExists(AlreadyExists):
    code = "gtin_exists"
    title = "GTIN already belongs to another variant"


class InvalidGtin(ValidationFailed):
    code = "invalid_gtin"
    title = "Invalid GTIN"


def checked_gtin(value: str, field: str) -> str:
    """The GTIN if valid, else a 422 naming `field` and what is wrong."""
    if (why := gtins.problem(value)) is not None:
        raise InvalidGtin.field(field, why)
    return value


def _checked_price(price: PriceIn, field: str) -> None:
    if not known_currency(price.currency):
        raise ValidationFailed.field(f"{field}.currency", f"unknown currency {price.currency!r}")


# -- products ---------------------------------------------------------------------------------


def create_product(session: Session, data: ProductCreate, *, by: str | None) -> ProductOut:
    if session.scalar(select(Product.id).where(Product.code == data.code)) is not None:
        raise ProductExists(f"a product with code {data.code!r} exists", field="code")
    skus = [v.sku for v in data.variants]
    for i, item in enumerate(data.variants):
        if skus.index(item.sku) != i:
            raise ValidationFailed.field(f"variants.{i}.sku", f"SKU {item.sku!r} is twice")
        if item.gtin is not None:
            checked_gtin(item.gtin, f"variants.{i}.gtin")
        if item.price is not None:
            _checked_price(item.price, f"variants.{i}.price")
    taken = set(session.scalars(select(Variant.sku).where(Variant.sku.in_(skus))))
    if taken:
        i = next(i for i, s in enumerate(skus) if s in taken)
        raise SkuExists(f"SKU {skus[i]!r} exists", field=f"variants.{i}.sku")
    codes = [gtins.normalise(v.gtin) for v in data.variants if v.gtin]
    if len(set(codes)) != len(codes):
        raise ValidationFailed.field("variants", "two variants have the same GTIN")
    used = set(session.scalars(select(Variant.gtin14).where(Variant.gtin14.in_(codes))))
    if used:
        i = next(
            i for i, v in enumerate(data.variants) if v.gtin and gtins.normalise(v.gtin) in used
        )
        raise GtinExists(f"GTIN {data.variants[i].gtin} is in use", field=f"variants.{i}.gtin")

    now = utcnow()
    product = Product(
        id=new_id(),
        code=data.code,
        name=data.name,
        description=data.description,
        brand=data.brand,
        category=data.category,
        attributes=data.attributes,
        media=[str(url) for url in data.media],
        created_at=now,
        updated_at=now,
    )
    session.add(product)
    session.flush()
    for v in data.variants:
        variant = Variant(
            id=new_id(),
            product_id=product.id,
            sku=v.sku,
            gtin=v.gtin,
            gtin14=gtins.normalise(v.gtin) if v.gtin else None,
            attributes=v.attributes,
            created_at=now,
        )
        session.add(variant)
        session.flush()
        if v.price is not None:
            _append_price(session, variant, v.price, channel=None, by=by, now=now)
    emit(session, ProductCreated(code=product.code, name=product.name, skus=skus))
    return product_out(session, product)


def get_product(session: Session, code: str) -> ProductOut:
    product = session.scalar(select(Product).where(Product.code == code))
    if product is None:
        raise ProductNotFound(f"no product with code {code!r}", field="code")
    return product_out(session, product)


def list_products(
    session: Session,
    page: PageParams,
    *,
    brand: str | None = None,
    category: str | None = None,
) -> tuple[list[ProductOut], str | None]:
    stmt = select(Product)
    if brand is not None:
        stmt = stmt.where(Product.brand == brand)
    if category is not None:
        stmt = stmt.where(Product.category == category)
    rows, cursor = paginate(session, stmt, Product.code, page)
    return [product_out(session, p) for p in rows], cursor


def product_out(session: Session, product: Product, channel: str | None = None) -> ProductOut:
    variants = list(
        session.scalars(
            select(Variant).where(Variant.product_id == product.id).order_by(Variant.sku)
        )
    )
    prices = current_prices(session, [v.id for v in variants], channel=channel)
    return ProductOut(
        id=product.id,
        code=product.code,
        name=product.name,
        description=product.description,
        brand=product.brand,
        category=product.category,
        attributes=product.attributes,
        media=product.media,
        variants=[
            VariantOut(sku=v.sku, gtin=v.gtin, attributes=v.attributes, price=prices.get(v.id))
            for v in variants
        ],
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


# -- variants ---------------------------------------------------------------------------------


def get_variant(session: Session, sku: str, *, field: str = "sku") -> Variant:
    variant = session.scalar(select(Variant).where(Variant.sku == sku))
    if variant is None:
        raise VariantNotFound(f"no variant with SKU {sku!r}", field=field)
    return variant


def product_of(session: Session, variant: Variant) -> Product:
    product = session.get(Product, variant.product_id)
    if product is None:  # cannot be: a foreign key
        raise ProductNotFound(f"variant {variant.sku!r} has no product", field="sku")
    return product


def variant_by_gtin(session: Session, gtin: str) -> Variant:
    checked_gtin(gtin, "gtin")
    variant = session.scalar(select(Variant).where(Variant.gtin14 == gtins.normalise(gtin)))
    if variant is None:
        raise VariantNotFound(f"no variant with GTIN {gtin}", field="gtin")
    return variant


def known_skus(session: Session, skus: Iterable[str]) -> set[str]:
    """Which of these SKUs the catalog has (for other modules that take SKUs as input)."""
    wanted = sorted(set(skus))
    return set(session.scalars(select(Variant.sku).where(Variant.sku.in_(wanted))))


# -- prices -----------------------------------------------------------------------------------


def _price_out(row: Price, amount: int) -> PriceOut:
    return PriceOut(
        amount=amount,
        currency=row.currency,
        vat_rate=vat_rate(row.vat_bp),
        channel=row.channel,
        valid_from=row.valid_from,
    )


def _latest(
    session: Session, variant_ids: list[uuid.UUID], channel: str | None, at: datetime
) -> dict[uuid.UUID, Price]:
    """The newest price row in force at `at` per variant, for the one price or a channel."""
    if not variant_ids:
        return {}
    on_channel = Price.channel.is_(None) if channel is None else Price.channel == channel
    newest = (
        select(Price.variant_id, func.max(Price.valid_from).label("valid_from"))
        .where(Price.variant_id.in_(variant_ids), on_channel, Price.valid_from <= at)
        .group_by(Price.variant_id)
        .subquery()
    )
    rows = session.scalars(
        select(Price)
        .join(
            newest,
            and_(Price.variant_id == newest.c.variant_id, Price.valid_from == newest.c.valid_from),
        )
        .where(on_channel)
        .order_by(Price.created_at)
    )
    return {row.variant_id: row for row in rows}  # the last written wins a tie


def current_prices(
    session: Session, variant_ids: list[uuid.UUID], *, channel: str | None = None
) -> dict[uuid.UUID, PriceOut]:
    """The price each variant sells at now: a channel's exception if it has one, else the one
    price."""
    now = utcnow()
    base = _latest(session, variant_ids, None, now)
    prices = {
        vid: _price_out(row, row.amount) for vid, row in base.items() if row.amount is not None
    }
    if channel is not None:
        for vid, row in _latest(session, variant_ids, channel, now).items():
            if row.amount is not None:
                prices[vid] = _price_out(row, row.amount)
    return prices


def price_of(session: Session, sku: str, *, channel: str | None = None) -> PriceOut:
    variant = get_variant(session, sku)
    price = current_prices(session, [variant.id], channel=channel).get(variant.id)
    if price is None:
        raise PriceNotFound(f"SKU {sku!r} has no price yet", field="sku")
    return price


def _append_price(
    session: Session,
    variant: Variant,
    price: PriceIn | None,
    *,
    channel: str | None,
    by: str | None,
    now: datetime,
    currency: str | None = None,
    vat_bp: int | None = None,
) -> Price:
    valid_from = price.valid_from if price and price.valid_from else now
    row = Price(
        id=new_id(),
        variant_id=variant.id,
        channel=channel,
        amount=price.amount if price else None,
        currency=price.currency if price else (currency or "EUR"),
        vat_bp=vat_basis_points(price.vat_rate) if price else (vat_bp or 0),
        valid_from=valid_from,
        created_at=now,
        created_by=by,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        PriceChanged(
            sku=variant.sku,
            channel=channel,
            amount=row.amount,
            currency=row.currency,
            vat_rate=str(vat_rate(row.vat_bp)),
            valid_from=valid_from,
        ),
    )
    return row


def set_price(
    session: Session, sku: str, price: PriceIn, *, channel: str | None, by: str | None
) -> PriceOut:
    """Set the one price of a variant, or (with `channel`) an explicit exception for one
    channel. The old price stays in the history. Setting the price it has now changes nothing."""
    variant = get_variant(session, sku)
    _checked_price(price, "body")
    if channel is not None:
        channels.get_channel(session, channel, field="channel")
    now = utcnow()
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
    elif price.valid_from < now:
        raise ValidationFailed.field("body.valid_from", "a price cannot start in the past")
    base = _latest(session, [variant.id], None, price.valid_from or now).get(variant.id)
    if channel is not None and base is not None and base.currency != price.currency:
        raise ValidationFailed.field(
            "body.currency",
            f"the variant's one price is in {base.currency}, not {price.currency}",
        )
    row = _append_price(session, variant, price, channel=channel, by=by, now=now)
    return _price_out(row, price.amount)


def end_exception(session: Session, sku: str, channel: str, *, by: str | None) -> None:
    """The channel sells at the one price again."""
    variant = get_variant(session, sku)
    now = utcnow()
    current = _latest(session, [variant.id], channel, now).get(variant.id)
    if current is None or current.amount is None:
        raise PriceNotFound(
            f"channel {channel!r} has no price exception for {sku!r}", field="channel"
        )
    _append_price(
        session,
        variant,
        None,
        channel=channel,
        by=by,
        now=now,
        currency=current.currency,
        vat_bp=current.vat_bp,
    )


def price_history(session: Session, sku: str) -> list[PriceVersion]:
    variant = get_variant(session, sku)
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
        base = _latest(session, ids, None, now)
        for vid, row in _latest(session, ids, ch, now).items():
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
