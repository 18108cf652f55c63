from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from naadloos import migrations
from naadloos.kit.db import Base
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime


def test_the_migrations_build_exactly_the_models(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    assert diff == []


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
