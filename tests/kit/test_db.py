from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, Engine, func, select, text
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.exc import DBAPIError

from naadloos.channels import service
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.models import Channel
from naadloos.channels.schemas import ChannelCreate
from naadloos.kit import blocking, pg
from naadloos.kit.db import Database, UTCDateTime, create_engine_for
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime


def test_timestamps_come_back_as_utc(runtime: Runtime) -> None:
    amsterdam = timezone(timedelta(hours=1))
    with runtime.db.unit_of_work() as session:
        channel = service.create_channel(
            session, ChannelCreate(code="store:a", name="A", kind=ChannelKind.STORE)
        )
        channel.updated_at = datetime(2026, 3, 1, 13, 30, tzinfo=amsterdam)

    with runtime.db.unit_of_work(write=False) as session:
        stored = session.scalars(select(Channel).where(Channel.code == "store:a")).one()
    assert stored.updated_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert stored.updated_at.tzinfo is not None


def test_concurrent_writers_queue_instead_of_failing(runtime: Runtime) -> None:
    """Sixteen threads each create a channel at the same moment: all commit (on SQLite the
    writers queue on BEGIN IMMEDIATE and the busy timeout)."""
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def create(i: int) -> None:
        try:
            start.wait()
            with runtime.db.unit_of_work() as session:
                service.create_channel(
                    session, ChannelCreate(code=f"store:s{i}", name=f"S{i}", kind=ChannelKind.STORE)
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    with runtime.db.unit_of_work(write=False) as session:
        count = session.scalar(
            select(func.count()).select_from(Channel).where(Channel.kind == "store")
        )
    assert count == 16


def test_a_read_only_unit_of_work_cannot_write_on_postgresql(runtime: Runtime) -> None:
    if runtime.db.dialect != "postgresql":
        pytest.skip("PostgreSQL enforces READ ONLY transactions; SQLite has no such mode")
    with (
        pytest.raises(DBAPIError, match="read-only"),
        runtime.db.unit_of_work(write=False) as session,
    ):
        session.execute(text("UPDATE channels SET name = 'x'"))


def test_postgresql_sessions_do_not_compile_queries_with_jit(runtime: Runtime) -> None:
    if runtime.db.dialect != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    with runtime.db.unit_of_work(write=False) as session:
        assert session.scalar(text("SHOW jit")) == "off"


def test_settings_name_an_unsupported_database() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        Settings(database_url="mysql://root@localhost/shop")


def test_settings_refuse_an_in_memory_database() -> None:
    with pytest.raises(ValueError, match="in-memory SQLite"):
        Settings(database_url="sqlite:///:memory:")


def test_postgresql_urls_use_psycopg_3() -> None:
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:5432/test")

    assert settings.sqlalchemy_url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert settings.dialect == "postgresql"


def _backend_pid(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(settings: Settings, pid: int) -> None:
    other = Database(settings)
    try:
        with other.unit_of_work() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        other.dispose()


@contextmanager
def _postgres_pool(settings: Settings, *, ping_after_idle: float) -> Iterator[Database]:
    if settings.dialect != "postgresql":
        pytest.skip("SQLite has no server to close connections")
    db = Database(settings.model_copy(update={"database_ping_after_idle_seconds": ping_after_idle}))
    try:
        yield db
    finally:
        db.dispose()


def test_an_idle_connection_the_server_closed_is_replaced_before_use(settings: Settings) -> None:
    """The database restarted while the pool sat idle: the next request still works."""
    with _postgres_pool(settings, ping_after_idle=0) as db:
        first = _backend_pid(db)
        _terminate(settings, first)
        assert _backend_pid(db) != first


def test_a_busy_connection_is_not_tested_on_every_use(settings: Settings) -> None:
    """Within the idle limit no test query is sent: a connection the server closed meanwhile
    fails its request once, and the pool then hands out a fresh one."""
    with _postgres_pool(settings, ping_after_idle=3600) as db:
        first = _backend_pid(db)
        _terminate(settings, first)
        with pytest.raises(DBAPIError) as lost:
            _backend_pid(db)
        assert lost.value.connection_invalidated
        assert _backend_pid(db) != first


def test_sqlite_timestamps_are_stored_as_sqlalchemy_stores_them() -> None:
    """naadloos writes SQLite timestamps with `isoformat`, SQLAlchemy with its own format: the
    text must be the same (text order is time order, old rows read back), and read back too."""
    dialect = sqlite_dialect()
    ours = UTCDateTime().dialect_impl(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    ours_in, ours_out = ours.bind_processor(dialect), ours.result_processor(dialect, None)
    assert theirs is not None
    assert ours_in is not None
    assert ours_out is not None
    for moment in (
        datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=UTC),
        datetime(2026, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(999, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC),
    ):
        assert ours_in(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
        assert ours_out(ours_in(moment)) == moment
    # The moment a batch writes again and again (its `now`) is formatted once, and each other
    # moment still as itself.
    moment = datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=UTC)
    assert ours_in(moment) == ours_in(moment) == "2026-03-01 12:30:05.000120"
    assert ours_in(moment + timedelta(microseconds=1)) == "2026-03-01 12:30:05.000121"
    assert ours_in(moment.replace(microsecond=0)) == "2026-03-01 12:30:05.000000"
    assert ours_in(moment) == "2026-03-01 12:30:05.000120"
    # Text SQLite wrote itself (CURRENT_TIMESTAMP) reads back as UTC too.
    assert ours_out("2026-03-01 12:30:05") == datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        ours_in(datetime(2026, 3, 1))  # noqa: DTZ001 - the mistake being refused


_PREPARED_HERE = text(
    "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT 1 + $1'"
)


def _prepared_survive_rollbacks(engine: Engine) -> None:
    with engine.connect() as conn:  # one connection throughout: prepared statements are its own
        assert conn.connection.driver_connection.prepared_max == pg.PREPARED_MAX
        for n in range(6):  # psycopg prepares a statement at its sixth run
            conn.execute(text("SELECT 1 + :n"), {"n": n})
        conn.rollback()  # as when a request is refused
        assert conn.execute(_PREPARED_HERE).scalar_one() == 1
        with pytest.raises(DBAPIError):
            conn.execute(text("SELECT 1 / 0"))
        conn.rollback()  # as when a statement failed
        for n in range(6):
            assert conn.execute(text("SELECT 1 + :n"), {"n": n}).scalar_one() == 1 + n
        # Still the one server-side statement: psycopg did not forget and prepare it anew.
        assert conn.execute(_PREPARED_HERE).scalar_one() == 1
        conn.rollback()


def test_postgresql_connections_keep_their_prepared_statements_across_a_rollback(
    runtime: Runtime,
) -> None:
    """A refused request rolls back; psycopg alone would then DEALLOCATE ALL (kit.pg)."""
    if runtime.db.dialect != "postgresql":
        pytest.skip("SQLite has no server-side prepared statements")
    _prepared_survive_rollbacks(runtime.db.engine)  # the threads' engine
    assert runtime.db.async_engine is not None
    requests = runtime.db.async_engine.sync_engine

    async def on_the_loop() -> None:
        await blocking.run_db(lambda: _prepared_survive_rollbacks(requests))

    asyncio.run(on_the_loop())


def test_the_migrations_engine_rolls_back_as_psycopg_does(settings: Settings) -> None:
    """Where DDL runs, a rollback may undo a schema a prepared statement was planned for."""
    if settings.dialect != "postgresql":
        pytest.skip("SQLite has no server-side prepared statements")
    engine = create_engine_for(settings, ddl=True)
    try:
        with engine.connect() as conn:
            for n in range(6):
                conn.execute(text("SELECT 1 + :n"), {"n": n})
            conn.rollback()
            assert conn.execute(_PREPARED_HERE).scalar_one() == 0
            conn.rollback()
    finally:
        engine.dispose()
