from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from naadloos import migrations
from naadloos.kit.db import Base
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime


def test_the_migrations_build_exactly_the_models(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": migrations.include_name}),
            Base.metadata,
        )

    assert diff == []


def test_autogenerate_sees_every_modules_tables() -> None:
    """`migrations.models()` is what env.py compares with: it must hold every table there is,
    or the next generated migration would drop the tables it misses."""
    every = set(Base.metadata.tables)  # the app imported every model module
    alone = subprocess.run(  # a fresh process, as alembic's: only what models() imports
        [
            sys.executable,
            "-c",
            "from naadloos import migrations; print(*migrations.models().tables)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(alone.stdout.split()) == every
    assert {"orders", "returns", "carts", "stock_levels", "persons"} <= every


def test_migrations_go_down_and_up_again(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/m.db")
    migrations.upgrade(settings)
    migrations.upgrade(settings)  # a second upgrade is a no-op

    command.downgrade(migrations.alembic_config(settings), "base")
    engine = create_engine(settings.sqlalchemy_url)
    assert inspect(engine).get_table_names() == ["alembic_version"]
    migrations.upgrade(settings)
    assert "channels" in inspect(engine).get_table_names()
    engine.dispose()


def test_products_that_exist_before_search_are_indexed_by_the_upgrade(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/m.db")
    migrations.upgrade(settings, "0005")
    engine = create_engine(settings.sqlalchemy_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO products (id, code, name, description, brand, category, attributes,"
                " media, created_at, updated_at) VALUES ('00000000000000000000000000000001',"
                " 'P-1', 'Zwarte jassen', '', 'Stijl', NULL, '{\"material\": \"wol\"}', '[]',"
                " '2026-11-01 10:00:00', '2026-11-01 10:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO variants (id, product_id, sku, gtin, gtin14, attributes, created_at)"
                " VALUES ('00000000000000000000000000000002', '00000000000000000000000000000001',"
                " 'JAS-M', NULL, NULL, '{\"size\": \"M\"}', '2026-11-01 10:00:00')"
            )
        )

    migrations.upgrade(settings)

    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT rowid FROM product_fts WHERE product_fts MATCH 'jas AND wol AND m'")
        ).all()
    engine.dispose()
    assert len(found) == 1
