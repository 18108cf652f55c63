"""Products with their variants. Services flush; the request or job boundary commits."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from naadloos.catalog import gtin as gtins
from naadloos.catalog.events import ProductCreated, ProductUpdated
from naadloos.catalog.models import Product, Variant
from naadloos.catalog.schemas import (
    ProductCreate,
    ProductOut,
    ProductUpdate,
    VariantOut,
)
from naadloos.catalog.service import prices, search_index, variants
from naadloos.kit.errors import AlreadyExists, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.pagination import PageParams, paginate
from naadloos.kit.time import utcnow


class ProductExists(AlreadyExists):
    code = "product_exists"
    title = "Product already exists"


class SkuExists(AlreadyExists):
    code = "sku_exists"
    title = "SKU already exists"


class GtinExists(AlreadyExists):
    code = "gtin_exists"
    title = "GTIN already belongs to another variant"


def create_product(session: Session, data: ProductCreate, *, by: str | None) -> ProductOut:
    if session.scalar(select(Product.id).where(Product.code == data.code)) is not None:
        raise ProductExists(f"a product with code {data.code!r} exists", field="code")
    now = utcnow()
    skus = [v.sku for v in data.variants]
    for i, item in enumerate(data.variants):
        if skus.index(item.sku) != i:
            raise ValidationFailed.field(f"variants.{i}.sku", f"SKU {item.sku!r} is twice")
        if item.gtin is not None:
            variants.checked_gtin(item.gtin, f"variants.{i}.gtin")
        if item.price is not None:
            prices.checked_price(item.price, f"variants.{i}.price", now)
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
            prices.append_price(session, variant, v.price, channel=None, by=by, now=now)
    search_index.index_product(session, product)
    emit(session, ProductCreated(code=product.code, name=product.name, skus=skus))
    return product_out(session, product)


def get_product(session: Session, code: str) -> ProductOut:
    product = session.scalar(select(Product).where(Product.code == code))
    if product is None:
        raise variants.ProductNotFound(f"no product with code {code!r}", field="code")
    return product_out(session, product)


_CLEARABLE = {"brand", "category"}


def update_product(session: Session, code: str, data: ProductUpdate) -> ProductOut:
    """Change the fields given, re-index the product for search, and say what changed."""
    product = session.scalar(select(Product).where(Product.code == code).with_for_update())
    if product is None:
        raise variants.ProductNotFound(f"no product with code {code!r}", field="code")
    changed: list[str] = []
    for name in sorted(data.model_fields_set):
        value = getattr(data, name)
        if value is None and name not in _CLEARABLE:
            raise ValidationFailed.field(name, f"{name} cannot be cleared")
        if name == "media":
            value = [str(url) for url in value]
        if getattr(product, name) != value:
            setattr(product, name, value)
            changed.append(name)
    if changed:
        product.updated_at = utcnow()
        session.flush()
        search_index.index_product(session, product)
        emit(session, ProductUpdated(code=product.code, fields=changed))
    return product_out(session, product)


def count_products(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


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
    rows = list(
        session.scalars(
            select(Variant).where(Variant.product_id == product.id).order_by(Variant.sku)
        )
    )
    priced = prices.current_prices(session, [v.id for v in rows], channel=channel)
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
            VariantOut(sku=v.sku, gtin=v.gtin, attributes=v.attributes, price=priced.get(v.id))
            for v in rows
        ],
        created_at=product.created_at,
        updated_at=product.updated_at,
    )
