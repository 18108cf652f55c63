"""Product search: full text in the database's own index (ADR 0008), filters and facets.

The index row of a product is written in the transaction that writes the product
(`search_index`), so a product is findable the moment it exists. Stock is inventory's: it
hands search a `Stock` (SQL expressions over its own tables), and search never reads those
tables itself (DESIGN rule 1).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from naadloos.catalog import analysis
from naadloos.catalog.models import Price, Product, ProductSearch, Variant
from naadloos.catalog.schemas import (
    Facets,
    FacetValue,
    PriceOut,
    PriceRange,
    SearchHit,
    SearchResult,
    SearchSort,
)
from naadloos.catalog.service import prices
from naadloos.channels import service as channels
from naadloos.kit.errors import ValidationFailed
from naadloos.kit.time import utcnow

DEFAULT_PRICE_EDGES = (2500, 5000, 10000, 20000, 50000)  # minor units: EUR 25, 50, ...
FACET_SIZE = 20
MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_CHOICES = 50  # categories or brands in one search
MAX_PRICE_EDGES = 20

# Column weights of the relevance: name, brand, category, codes, attributes, description.
_FTS5_WEIGHTS = (10.0, 6.0, 4.0, 4.0, 2.0, 1.0)
_FTS = table("product_fts", column("rowid", Integer))
# The expression of PostgreSQL's GIN index (migration 0006), token for token: the planner uses
# the index only for the very same expression.
_PG_DOCUMENT: ColumnElement[Any] = literal_column(
    "setweight(to_tsvector('simple'::regconfig, product_search.name), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, product_search.brand || ' ' || "
    "product_search.category || ' ' || product_search.codes), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, product_search.attributes), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, product_search.description), 'D')"
)

InStock = Callable[[ColumnElement[str]], ColumnElement[bool]]


@dataclass(frozen=True)
class Stock:
    """What inventory tells search about stock. `in_stock(sku)`: is something of that SKU
    available at the location asked for; `stocked`: rows `(sku, location)` with something
    available, for the location facet."""

    in_stock: InStock | None = None
    stocked: Subquery | None = None


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None
    categories: tuple[str, ...] = ()  # a category matches itself and everything below it
    brands: tuple[str, ...] = ()
    price_min: int | None = None  # minor units, included
    price_max: int | None = None  # included
    channel: str | None = None  # whose prices (an explicit exception) and safety stock
    sort: SearchSort | None = None  # relevance with a text, else name
    limit: int = 24
    offset: int = 0
    price_edges: tuple[int, ...] = DEFAULT_PRICE_EDGES


# The kept price travels with the text hits, so that a query reads each search row once.
_KEPT = (ProductSearch.price, ProductSearch.price_until, ProductSearch.exceptions)


def _text_hits(session: Session, terms: list[analysis.Term]) -> Subquery:
    """`(product_id, score)` of the products that match the terms, higher score better."""
    if session.get_bind().dialect.name == "sqlite":
        bm25 = func.bm25(literal_column("product_fts"), *_FTS5_WEIGHTS)
        return (
            select(ProductSearch.product_id, (-bm25).label("score"), *_KEPT)
            .select_from(ProductSearch)
            .join(_FTS, _FTS.c.rowid == ProductSearch.id)
            .where(text("product_fts MATCH :fts").bindparams(fts=analysis.fts5_query(terms)))
            .subquery("hits")
        )
    query = func.to_tsquery(literal_column("'simple'::regconfig"), literal(analysis.tsquery(terms)))
    return (
        select(
            ProductSearch.product_id,
            func.ts_rank(_PG_DOCUMENT, query, type_=Float).label("score"),
            *_KEPT,
        )
        .where(_PG_DOCUMENT.op("@@")(query))
        .subquery("hits")
    )


def _variant_price(channel: str | None, now: datetime) -> ColumnElement[int]:
    """The price a variant (of the enclosing query) sells at now, as SQL."""

    def newest(on_channel: ColumnElement[bool]) -> ColumnElement[int]:
        return (
            select(Price.amount)
            .where(Price.variant_id == Variant.id, on_channel, Price.valid_from <= now)
            .order_by(Price.valid_from.desc(), Price.created_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    one = newest(Price.channel.is_(None))
    # An ended exception is a row without an amount: the one price again.
    return one if channel is None else func.coalesce(newest(Price.channel == channel), one)


def _product_price(channel: str | None, now: datetime, kept: Any) -> ColumnElement[int]:
    """The lowest price of a product's variants, now: what filters, sorts and facets use. The
    price kept on the search row while it holds, else worked out from the price history."""
    worked_out = (
        select(func.min(_variant_price(channel, now)))
        .where(Variant.product_id == Product.id)
        .scalar_subquery()
    )
    holds = or_(kept.price_until.is_(None), kept.price_until > now)
    if channel is not None:
        holds = and_(holds, kept.exceptions.is_(False))
    return case((holds, kept.price), else_=worked_out)


@dataclass(frozen=True)
class _Matched:
    """The products that match: `stmt` selects from products (joined to the text hits and
    the search rows as needed) with every filter; `score` and `price` are its expressions."""

    stmt: Select[Any]
    score: ColumnElement[float]
    price: ColumnElement[int]


def _matched(
    query: SearchQuery,
    hits: Subquery | None,
    stock: Stock,
    now: datetime,
    *,
    leave_out: str | None = None,
    priced: bool = False,
) -> _Matched:
    """Every filter applied except `leave_out` (a facet counts without its own filter). The
    search row is joined only when `priced` or a price filter needs it."""
    price = _product_price(query.channel, now, ProductSearch if hits is None else hits.c)
    score: ColumnElement[float] = literal(0.0, Float) if hits is None else hits.c.score
    filtered = leave_out != "price" and (query.price_min, query.price_max) != (None, None)
    stmt = select(Product.id).select_from(Product)
    if hits is not None:
        stmt = stmt.join(hits, hits.c.product_id == Product.id)
    elif priced or filtered:
        stmt = stmt.join(ProductSearch, ProductSearch.product_id == Product.id)
    if query.categories and leave_out != "category":
        stmt = stmt.where(
            or_(
                *(
                    or_(
                        Product.category == c,
                        Product.category.startswith(f"{c} > ", autoescape=True),
                    )
                    for c in query.categories
                )
            )
        )
    if query.brands and leave_out != "brand":
        stmt = stmt.where(Product.brand.in_(query.brands))
    if leave_out != "price":
        if query.price_min is not None:
            stmt = stmt.where(price >= query.price_min)
        if query.price_max is not None:
            stmt = stmt.where(price <= query.price_max)
    if stock.in_stock is not None and leave_out != "location":
        stmt = stmt.where(
            exists(
                select(Variant.id).where(
                    Variant.product_id == Product.id, stock.in_stock(Variant.sku.expression)
                )
            )
        )
    return _Matched(stmt, score, price)


def _checked(query: SearchQuery, session: Session) -> None:
    if not 1 <= query.limit <= MAX_LIMIT:
        raise ValidationFailed.field("limit", f"give 1 to {MAX_LIMIT}")
    if not 0 <= query.offset <= MAX_OFFSET:
        raise ValidationFailed.field("offset", f"give 0 to {MAX_OFFSET}: narrow the search")
    for name in ("price_min", "price_max"):
        if (getattr(query, name) or 0) < 0:
            raise ValidationFailed.field(name, "a price is not negative")
    if (
        query.price_min is not None
        and query.price_max is not None
        and query.price_min > query.price_max
    ):
        raise ValidationFailed.field("price_max", "is below price_min")
    for field, chosen in (("category", query.categories), ("brand", query.brands)):
        if len(chosen) > MAX_CHOICES:
            raise ValidationFailed.field(field, f"give at most {MAX_CHOICES}")
    edges = query.price_edges
    if not edges or any(e <= 0 for e in edges) or list(edges) != sorted(set(edges)):
        raise ValidationFailed.field("price_edges", "give increasing amounts above 0")
    if len(edges) > MAX_PRICE_EDGES:
        raise ValidationFailed.field("price_edges", f"give at most {MAX_PRICE_EDGES} amounts")
    if query.channel is not None and not channels.channel_exists(session, query.channel):
        channels.get_channel(session, query.channel, field="channel")  # raises the 404


def _order(sort: SearchSort, matched: _Matched) -> list[Any]:
    if sort is SearchSort.RELEVANCE:
        return [matched.score.desc(), Product.name, Product.code]
    if sort is SearchSort.PRICE_ASC:
        return [matched.price.asc().nulls_last(), Product.name, Product.code]
    if sort is SearchSort.PRICE_DESC:
        return [matched.price.desc().nulls_last(), Product.name, Product.code]
    if sort is SearchSort.NEWEST:
        return [Product.created_at.desc(), Product.code]
    return [Product.name, Product.code]


def search(session: Session, query: SearchQuery, stock: Stock | None = None) -> SearchResult:
    """A page of the products that match, best first, with the facets of all that match."""
    _checked(query, session)
    stock = stock or Stock()
    now = utcnow()
    terms = analysis.query_terms(query.text) if query.text else []
    hits = _text_hits(session, terms) if terms else None
    sort = query.sort or (SearchSort.RELEVANCE if terms else SearchSort.NAME)
    by_price = sort in (SearchSort.PRICE_ASC, SearchSort.PRICE_DESC)
    matched = _matched(query, hits, stock, now, priced=by_price)
    total = session.scalar(matched.stmt.with_only_columns(func.count())) or 0
    page = session.execute(
        matched.stmt.with_only_columns(Product, matched.score)
        .order_by(*_order(sort, matched))
        .limit(query.limit)
        .offset(query.offset)
    ).all()

    def without(facet: str) -> _Matched:
        return _matched(query, hits, stock, now, leave_out=facet, priced=facet == "price")

    facets = Facets(
        category=_values(session, Product.category, without("category")),
        brand=_values(session, Product.brand, without("brand")),
        price=_price_ranges(session, without("price"), query.price_edges),
        location=None
        if stock.stocked is None
        else _locations(session, stock.stocked, without("location")),
    )
    items = _hits(session, [(product, score) for product, score in page], query.channel)
    return SearchResult(total=total, items=items, facets=facets)


def _values(session: Session, attribute: Any, matched: _Matched) -> list[FacetValue]:
    count = func.count()
    rows = session.execute(
        matched.stmt.with_only_columns(attribute, count)
        .where(attribute.is_not(None))
        .group_by(attribute)
        .order_by(count.desc(), attribute)
        .limit(FACET_SIZE)
    )
    return [FacetValue(value=value, count=n) for value, n in rows]


def _price_ranges(session: Session, matched: _Matched, edges: tuple[int, ...]) -> list[PriceRange]:
    bucket = case(
        *((matched.price < edge, index) for index, edge in enumerate(edges)),
        else_=len(edges),
    )
    buckets = (
        matched.stmt.with_only_columns(bucket.label("bucket"))
        .where(matched.price.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(buckets.c.bucket, func.count()).group_by(buckets.c.bucket).order_by(buckets.c.bucket)
    )
    bounds = [0, *edges, None]
    return [
        PriceRange(min_amount=bounds[i] or 0, max_amount=bounds[i + 1], count=n) for i, n in rows
    ]


def _locations(session: Session, stocked: Subquery, matched: _Matched) -> list[FacetValue]:
    count = func.count(func.distinct(Product.id))
    rows = session.execute(
        matched.stmt.with_only_columns(stocked.c.location, count)
        .join(Variant, Variant.product_id == Product.id)
        .join(stocked, stocked.c.sku == Variant.sku)
        .group_by(stocked.c.location)
        .order_by(count.desc(), stocked.c.location)
        .limit(FACET_SIZE)
    )
    return [FacetValue(value=value, count=n) for value, n in rows]


def _hits(
    session: Session, page: list[tuple[Product, float]], channel: str | None
) -> list[SearchHit]:
    """The page's products with their SKUs and lowest price: two queries for the whole page."""
    ids = [product.id for product, _ in page]
    skus: dict[uuid.UUID, list[str]] = {}
    owner: dict[uuid.UUID, uuid.UUID] = {}
    for product_id, variant_id, sku in session.execute(
        select(Variant.product_id, Variant.id, Variant.sku)
        .where(Variant.product_id.in_(ids))
        .order_by(Variant.sku)
    ):
        skus.setdefault(product_id, []).append(sku)
        owner[variant_id] = product_id
    lowest: dict[uuid.UUID, PriceOut] = {}
    for variant_id, price in prices.current_prices(session, list(owner), channel=channel).items():
        product_id = owner[variant_id]
        if product_id not in lowest or price.amount < lowest[product_id].amount:
            lowest[product_id] = price
    return [
        SearchHit(
            code=product.code,
            name=product.name,
            brand=product.brand,
            category=product.category,
            media=product.media,
            skus=skus.get(product.id, []),
            price=lowest.get(product.id),
            score=float(score),
        )
        for product, score in page
    ]
