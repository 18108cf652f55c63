"""Variants: what is sold and stocked, found by SKU or by GTIN."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.catalog import gtin as gtins
from naadloos.catalog.models import Product, Variant
from naadloos.kit.errors import NotFound, ValidationFailed


class ProductNotFound(NotFound):
    code = "product_not_found"
    title = "Product not found"


class VariantNotFound(NotFound):
    code = "variant_not_found"
    title = "No variant with that SKU or GTIN"


class InvalidGtin(ValidationFailed):
    code = "invalid_gtin"
    title = "Invalid GTIN"


def checked_gtin(value: str, field: str) -> str:
    """The GTIN if valid, else a 422 naming `field` and what is wrong."""
    if (why := gtins.problem(value)) is not None:
        raise InvalidGtin.field(field, why)
    return value


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
