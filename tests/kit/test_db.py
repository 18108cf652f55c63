from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from naadloos.channels import service
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.models import Channel
from naadloos.channels.schemas import ChannelCreate
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
