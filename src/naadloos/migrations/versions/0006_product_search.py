"""catalog: product search

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

The analysed text lives in `product_search`, a table of the models; the full-text index over it
is the database's own and not a model (the test that compares models and migrations skips it by
name, `naadloos.migrations.include_name`):
- SQLite: the FTS5 table `product_fts` with `product_search` as its external content, kept in
  step by triggers. A later migration that rebuilds `product_search` (batch mode) must recreate
  the triggers.
- PostgreSQL: a GIN index on the weighted document; `catalog.service.search` queries the very
  same expression, or the planner cannot use the index.
"""

# ruff: noqa: S608 - the statements are built from the constant field names above, no input

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import naadloos.kit.db
from naadloos.catalog import analysis

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELDS = ("name", "brand", "category", "codes", "attributes", "description")

PG_DOCUMENT = (
    "setweight(to_tsvector('simple'::regconfig, name), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, brand || ' ' || category || ' ' || codes), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, attributes), 'C') || "
    "setweight(to_tsvector('simple'::regconfig, description), 'D')"
)


def _sqlite_index() -> None:
    columns = ", ".join(FIELDS)
    new = ", ".join(f"new.{f}" for f in FIELDS)
    old = ", ".join(f"old.{f}" for f in FIELDS)
    op.execute(
        f"CREATE VIRTUAL TABLE product_fts USING fts5({columns}, content='product_search', "
        "content_rowid='id', tokenize='unicode61', prefix='2 3')"
    )
    op.execute(
        "CREATE TRIGGER product_fts_insert AFTER INSERT ON product_search BEGIN "
        f"INSERT INTO product_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER product_fts_delete AFTER DELETE ON product_search BEGIN "
        f"INSERT INTO product_fts(product_fts, rowid, {columns}) VALUES ('delete', old.id, {old}); "
        "END"
    )
    op.execute(
        "CREATE TRIGGER product_fts_update AFTER UPDATE ON product_search BEGIN "
        f"INSERT INTO product_fts(product_fts, rowid, {columns}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO product_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )


def _backfill() -> None:
    """Index the products that exist already (the analysis is the code's, as a reindex)."""
    bind = op.get_bind()
    variants: dict[Any, list[tuple[str, str | None, Any]]] = {}
    rows: Any = bind.execute(
        sa.select(
            sa.column("product_id", sa.Uuid()),
            sa.column("sku"),
            sa.column("gtin"),
            sa.column("attributes", sa.JSON()),
        ).select_from(sa.table("variants"))
    )
    for product_id, sku, gtin, attributes in rows:
        variants.setdefault(product_id, []).append((sku, gtin, attributes))
    products: Any = bind.execute(
        sa.select(
            sa.column("id", sa.Uuid()),
            sa.column("code"),
            sa.column("name"),
            sa.column("description"),
            sa.column("brand"),
            sa.column("category"),
            sa.column("attributes", sa.JSON()),
        ).select_from(sa.table("products"))
    )
    table = sa.table(
        "product_search",
        sa.column("product_id", sa.Uuid()),
        sa.column("price_until", naadloos.kit.db.UTCDateTime()),
        sa.column("exceptions", sa.Boolean()),
        *(sa.column(f) for f in FIELDS),
    )
    # The prices are left to the job that keeps them (`catalog.search-prices`): due at once,
    # and until it has run, searches work each price out.
    due = datetime(1970, 1, 1, tzinfo=UTC)
    for product_id, code, name, description, brand, category, attributes in products:
        doc = analysis.document(
            code=code,
            name=name,
            description=description,
            brand=brand,
            category=category,
            attributes=attributes,
            variants=variants.get(product_id, []),
        )
        bind.execute(
            table.insert().values(product_id=product_id, price_until=due, exceptions=False, **doc)
        )


def upgrade() -> None:
    op.create_table(
        "product_search",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        *(sa.Column(f, sa.Text(), nullable=False) for f in FIELDS),
        sa.Column("price", sa.Integer(), nullable=True),
        sa.Column("price_until", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exceptions", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_search_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_search")),
        sa.UniqueConstraint("product_id", name=op.f("uq_product_search_product_id")),
    )
    with op.batch_alter_table("product_search", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_search_price_until"), ["price_until"], unique=False
        )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_index()
    else:
        op.execute(
            f"CREATE INDEX ix_product_search_document ON product_search USING gin (({PG_DOCUMENT}))"
        )
    _backfill()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER product_fts_{trigger}")
        op.execute("DROP TABLE product_fts")
    else:
        op.execute("DROP INDEX ix_product_search_document")
    op.drop_table("product_search")
