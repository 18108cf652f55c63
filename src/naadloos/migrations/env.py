from __future__ import annotations

from alembic import context

from naadloos.kit.db import create_engine_for
from naadloos.kit.settings import Settings
from naadloos.migrations import include_name, models

config = context.config
target_metadata = models()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    settings = Settings(database_url=str(config.get_main_option("sqlalchemy.url")))
    engine = create_engine_for(settings, ddl=True)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
        include_name=include_name,
        # SQLite runs DDL in transactions too (we control BEGIN): a failed migration leaves
        # no half-changed schema behind.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
