"""Alembic migrations, shipped inside the package so `naadloos db upgrade` works anywhere."""

from __future__ import annotations

import importlib

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

from naadloos.kit.settings import Settings

# The databases' own full-text index objects (migration 0006) are not models.
UNMODELLED = ("product_fts", "ix_product_search_document")


# Every module with tables. Autogenerate compares the database with these models only: a module
# missing here would have its tables dropped by the next generated migration.
MODEL_MODULES = (
    "naadloos.kit.models",
    "naadloos.channels.models",
    "naadloos.customers.models",
    "naadloos.catalog.models",
    "naadloos.inventory.models",
    "naadloos.orders.models",
)


def models() -> MetaData:
    """The metadata with every module's tables on it."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from naadloos.kit.db import Base  # noqa: PLC0415 - after the models registered

    return Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether autogenerate compares an object of the database with the models."""
    return name is None or not name.startswith(UNMODELLED)


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", "naadloos:migrations")
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
