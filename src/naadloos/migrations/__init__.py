"""Alembic migrations, shipped inside the package so `naadloos db upgrade` works anywhere."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from naadloos.kit.settings import Settings

# The databases' own full-text index objects (migration 0006) are not models.
UNMODELLED = ("product_fts", "ix_product_search_document")


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
