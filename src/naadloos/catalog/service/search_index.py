"""The search index's row of a product (ADR 0008): written in the transaction that writes the
product, so a product is findable the moment it exists; rebuilt for every product after a change
of the text analysis (`naadloos catalog reindex`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from naadloos.catalog import analysis
from naadloos.catalog.models import Product, ProductSearch, Variant
from naadloos.catalog.service import prices
from naadloos.kit.time import utcnow


def index_product(session: Session, product: Product) -> None:
    """Write the product's row of the search index (in the caller's transaction)."""
    rows = session.execute(
        select(Variant.sku, Variant.gtin, Variant.attributes)
        .where(Variant.product_id == product.id)
        .order_by(Variant.sku)
    ).all()
    doc = analysis.document(
        code=product.code,
        name=product.name,
        description=product.description,
        brand=product.brand,
        category=product.category,
        attributes=product.attributes,
        variants=[(sku, gtin, attributes) for sku, gtin, attributes in rows],
    )
    row = session.scalar(select(ProductSearch).where(ProductSearch.product_id == product.id))
    if row is None:
        session.add(ProductSearch(product_id=product.id, exceptions=False, **doc))
    else:
        for name, value in doc.items():
            setattr(row, name, value)
    session.flush()
    prices.refresh_search_price(session, product.id, utcnow())


def reindex(session: Session, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the search index of every product (after a change of the analysis)."""
    count = 0
    for product in session.scalars(select(Product).order_by(Product.code)).all():
        index_product(session, product)
        count += 1
        if progress is not None:
            progress(count)
    if session.get_bind().dialect.name == "sqlite":  # and FTS5's own copy, from the rows
        session.execute(text("INSERT INTO product_fts(product_fts) VALUES ('rebuild')"))
    return count
