"""The database: engine built by the app factory (never at import), sessions, and the unit of work.

One request or job is one transaction: services only `flush`; the boundary commits
(`Database.unit_of_work`). Write transactions on SQLite start with `BEGIN IMMEDIATE`, so concurrent
writers queue on the busy timeout instead of failing on a stale snapshot; read transactions on
PostgreSQL are `READ ONLY`, so a read path cannot write by accident.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from naadloos.kit import pg
from naadloos.kit.checkpoints import BACKSTOP_PAGES, INLINE_PAGES, Checkpointer
from naadloos.kit.prepared import Prepared
from naadloos.kit.settings import Settings
from naadloos.kit.time import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC on the way out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return as_utc(value).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)

    # On SQLite a timestamp is text; SQLAlchemy's DateTime formats and parses it field by
    # field in Python, the C `isoformat`/`fromisoformat` do the same in a tenth of the time.
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return sqlite_timestamp
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _from_sqlite_timestamp
        return super().result_processor(dialect, coltype)


def sqlite_timestamp(value: datetime | None) -> str | None:
    """A UTC timestamp as SQLite stores it: `2026-03-01 12:30:05.000120`, as SQLAlchemy's
    DateTime writes it (so that text order is time order)."""
    global _last_timestamp  # noqa: PLW0603 - a one-entry memo, replaced whole
    if value is None:
        return None
    last = _last_timestamp
    if value is last[0]:
        return last[1]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    text = utc.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"
    _last_timestamp = (value, text)
    return text


# The one moment a statement or a batch writes many times (its `now`, a batch's `received_at`)
# is formatted once: the same object as last time gives the same text (datetimes are immutable;
# the pair is replaced in one assignment, so threads never see half of it).
_last_timestamp: tuple[datetime | None, str] = (None, "")


def _from_sqlite_timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value))


def table_of(model: type[Base]) -> Table:
    """The Core table of a model: statements on it skip the ORM's bulk machinery (hot paths)."""
    return cast(Table, model.__table__)


def insert_or_nothing(
    session: Session, model: type[Base], values: dict[str, Any], returning: Any
) -> Any | None:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING`: the returned column if the row was
    inserted, None if it existed. On PostgreSQL it waits for a concurrent insert of the same key
    to commit or roll back, and never aborts the transaction. Pending ORM changes are flushed
    first, as `Session.execute` would."""
    dialect = session.get_bind().dialect
    column = returning.expression  # a mapped attribute's column (a column is its own)
    prepared = _insert_or_nothing(table_of(model), tuple(values), column.name, dialect)
    if prepared is None:  # a column with a Python-side default was left out: SQLAlchemy's way
        insert = pg_insert if dialect.name == "postgresql" else sqlite_insert
        stmt = insert(table_of(model)).values(**values).on_conflict_do_nothing().returning(column)
        return session.execute(stmt).scalar_one_or_none()
    session.flush()
    row = prepared.first(session, values)
    return None if row is None else row[0]


@lru_cache(maxsize=128)
def _insert_or_nothing(
    table: Table, columns: tuple[str, ...], returning: str, dialect: Dialect
) -> Prepared | None:
    """The statement compiled once for these columns (see kit.prepared), or None when it needs
    SQLAlchemy's execution (Python-side defaults of the columns left out)."""
    insert = pg_insert if dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing().returning(table.c[returning])
    prepared = Prepared(statement, columns=columns)
    try:
        prepared.compile_for(dialect)
    except ValueError:
        return None
    return prepared


_WRITE = "naadloos_write"
_IDLE_SINCE = "naadloos_idle_since"
AfterCommit = Callable[[Session], None]


class Database:
    """Owns the engine and hands out units of work. Built once per process by the app factory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dialect = settings.dialect
        self.engine = create_engine_for(settings)
        write_engine = self.engine.execution_options(**{_WRITE: True})
        read_engine = (
            self.engine.execution_options(postgresql_readonly=True)
            if self.dialect == "postgresql"
            else self.engine
        )
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(read_engine, expire_on_commit=False)
        self._after_commit: list[AfterCommit] = []
        event.listen(self._write_sessions, "after_commit", self._run_after_commit)
        # Requests' sessions. On PostgreSQL they are bound to an asyncio engine: the request's
        # database work runs on the event loop in a greenlet (kit.blocking), its waits for the
        # server overlap with other requests' work without threads (ADR 0013).
        self.async_engine: AsyncEngine | None = None
        self._request_write_sessions = self._write_sessions
        self._request_read_sessions = self._read_sessions
        if self.dialect == "postgresql":
            self.async_engine = create_async_engine(
                settings.sqlalchemy_url,
                pool_size=settings.database_pool_size,
                max_overflow=settings.database_pool_size,
            )
            _set_up_postgres(self.async_engine.sync_engine, settings)
            requests = self.async_engine.sync_engine
            self._request_write_sessions = sessionmaker(
                requests.execution_options(**{_WRITE: True}), expire_on_commit=False
            )
            self._request_read_sessions = sessionmaker(
                requests.execution_options(postgresql_readonly=True), expire_on_commit=False
            )
            event.listen(self._request_write_sessions, "after_commit", self._run_after_commit)
        self.checkpointer: Checkpointer | None = None
        if self.dialect == "sqlite" and settings.sqlite_checkpoint_seconds:
            # A file: settings refuse an in-memory database.
            path = str(self.engine.url.database)
            self.checkpointer = Checkpointer(path, settings.sqlite_checkpoint_seconds)
            self.checkpointer.start()

    def on_commit(self, hook: AfterCommit) -> None:
        """Call `hook(session)` after each committed write transaction (to wake the dispatcher)."""
        self._after_commit.append(hook)

    def _run_after_commit(self, session: Session) -> None:
        for hook in self._after_commit:
            hook(session)

    def session(self, *, write: bool) -> Session:
        return (self._write_sessions if write else self._read_sessions)()

    def request_session(self, *, write: bool) -> Session:
        """A request's session: its work runs where `kit.blocking.run_db` places it."""
        return (self._request_write_sessions if write else self._request_read_sessions)()

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction: committed when the block ends cleanly, rolled back when it raises.
        A read-only unit just ends (objects read stay usable after the block)."""
        session = self.session(write=write)
        try:
            yield session
            if write:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self._dispose_threads_engine()
        if self.async_engine is not None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop here: the requests' connections close on one of ours
                asyncio.run(self.async_engine.dispose())
            else:  # pragma: no cover - a caller on a loop awaits `dispose_async` instead
                raise RuntimeError("on an event loop, await Database.dispose_async()")

    async def dispose_async(self) -> None:
        """`dispose` on an event loop: the requests' connections close on it."""
        if self.async_engine is not None:
            await self.async_engine.dispose()
        self._dispose_threads_engine()

    def _dispose_threads_engine(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def create_engine_for(settings: Settings, *, ddl: bool = False) -> Engine:
    """An engine with naadloos' connection setup (SQLite pragmas and transaction control).
    `ddl`: an engine for migrations, whose PostgreSQL connections roll back as psycopg does
    (forgetting their prepared statements: a rolled-back schema change may come back
    different); the others keep them (`kit.pg`)."""
    url = settings.sqlalchemy_url
    if settings.dialect == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 0},
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_size,
        )
        busy_ms = settings.sqlite_busy_timeout_ms
        checkpoint_pages = BACKSTOP_PAGES if settings.sqlite_checkpoint_seconds else INLINE_PAGES

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
            # Take transaction control from the driver: we emit BEGIN ourselves (below).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints run on a thread of their own (kit.checkpoints); a request
            # checkpoints only as a backstop. A 16 MB page cache a connection keeps index
            # pages in memory.
            cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint_pages}")
            cursor.execute("PRAGMA cache_size=-16384")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Straight to the driver: SQLAlchemy's statement execution cost a request as much
            # as a statement of its own (2.45M -> 2.34M instructions a reservation).
            statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN"
            try:
                conn.connection.dbapi_connection.execute(statement)  # type: ignore[union-attr]
            except sqlite3.OperationalError as exc:  # busy: answered 503 (kit.problems)
                raise OperationalError(statement, None, exc) from exc

        return engine
    engine = create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
    )
    _set_up_postgres(engine, settings, keep_prepared=not ddl)
    return engine


def _set_up_postgres(engine: Engine, settings: Settings, *, keep_prepared: bool = True) -> None:
    """naadloos' connection setup for PostgreSQL, of a threads' engine or an asyncio one's."""
    idle_limit = settings.database_ping_after_idle_seconds

    if keep_prepared:

        @event.listens_for(engine, "do_connect")
        def _connection_class(
            dialect: Dialect, _record: Any, cargs: list[Any], cparams: dict[str, Any]
        ) -> Any:
            # The same arguments as SQLAlchemy's own connect (its type adapters among them),
            # to naadloos' classes (kit.pg).
            if dialect.is_async:
                cparams["async_creator_fn"] = pg.AsyncConnection.connect
                return None
            return pg.Connection.connect(*cargs, **cparams)

    # A connection that sat in the pool may have been closed by the server (a restart, an idle
    # timeout, a failover): test it before use. One in steady use is not tested, which saves a
    # round trip a request (`pool_pre_ping` tests every checkout); if the server drops it
    # anyway, the request fails, the connection is invalidated and the next one is fresh.
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_idle(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_limit:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:  # a failed `SELECT 1`: not usable
            raise DisconnectionError(f"the pooled connection failed its test: {error}") from error
        if not alive:
            raise DisconnectionError("the pooled connection was closed by the server")

    @event.listens_for(engine, "connect")
    def _postgres_session(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # No JIT: naadloos' statements are short, and a correlated subquery can lift a plan's
        # estimated cost over `jit_above_cost`, where compiling it took 600 ms of a 15 ms
        # search (seen with EXPLAIN ANALYZE on bench/search.py's catalog).
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cursor = dbapi_conn.cursor()
        cursor.execute("SET jit = off")
        cursor.close()
        dbapi_conn.autocommit = autocommit
