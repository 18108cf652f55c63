"""Shared fixtures. Every database test runs once on SQLite and once on PostgreSQL; each test starts
from the freshly migrated state (tables are reset to what the migrations left).

PostgreSQL: `NAADLOOS_TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/test), in a
schema of its own per test process. NATS: `NAADLOOS_TEST_NATS_URL` (default nats://127.0.0.1:4222).
When a server is absent the tests that need it skip with the reason; with CI=true they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import pytest
from fastapi.testclient import TestClient
from nats.js.errors import NotFoundError
from sqlalchemy import create_engine, insert, select, text

from naadloos import migrations
from naadloos.api.app import create_app
from naadloos.kit import auth
from naadloos.kit.db import Base
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime, build_runtime

POSTGRES_URL = os.environ.get(
    "NAADLOOS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("NAADLOOS_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = [
    b.strip() for b in os.environ.get("NAADLOOS_TEST_BACKENDS", "sqlite,postgresql").split(",")
]
SUMMARY_FILE = Path(__file__).resolve().parent.parent / "build" / "test-backends.txt"

# What the suite really ran against, for the closing line of `make test`.
ran_on: dict[str, str] = {}


def absent(what: str) -> None:
    """A server the tests need is not there: skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"{what} (CI=true: a missing server is a failure, not a skip)")
    pytest.skip(what)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return
    SUMMARY_FILE.parent.mkdir(exist_ok=True)
    SUMMARY_FILE.write_text(", ".join(f"{k} {v}" for k, v in sorted(ran_on.items())) or "nothing")


# -- databases ------------------------------------------------------------------------------------


@dataclass
class Baseline:
    """The rows the migrations leave in a fresh database (e.g. the default channels)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True


@contextlib.contextmanager
def _postgres_schema(worker: str) -> Iterator[str]:
    """A schema of this test process's own (two runs on one machine do not share one), and the
    schemas of earlier runs whose process is gone dropped; this one is dropped at the end."""
    if not reachable(POSTGRES_URL, 5432):
        absent(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    schema = f"naadloos_test_{worker}_{os.getpid()}"
    admin = create_engine(Settings(database_url=POSTGRES_URL).sqlalchemy_url)
    try:
        with admin.begin() as conn:
            found = (
                conn.execute(
                    text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'naadloos_test_%'")
                )
                .scalars()
                .all()
            )
            for name in found:
                pid = name.rpartition("_")[2]
                if not pid.isdigit() or not _alive(int(pid)):  # an older run's, or its process gone
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            version = conn.execute(text("SHOW server_version")).scalar_one()
        ran_on["PostgreSQL"] = str(version).split()[0]
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings of a freshly migrated database of one backend."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "naadloos.db"
        result = Settings(database_url=f"sqlite:///{path}")
        ran_on["SQLite"] = sqlite3.sqlite_version
        migrations.upgrade(result)
        yield result
    elif request.param == "postgresql":
        with _postgres_schema(worker) as schema:
            sep = "&" if "?" in POSTGRES_URL else "?"
            result = Settings(database_url=f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}")
            migrations.upgrade(result)
            yield result
    else:
        raise pytest.UsageError(f"unknown backend {request.param!r}")


@pytest.fixture(scope="session")
def baseline(settings: Settings) -> Baseline:
    engine = create_engine(settings.sqlalchemy_url)
    found = Baseline()
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            found.rows[table.name] = [dict(r._mapping) for r in conn.execute(select(table))]
    engine.dispose()
    return found


def _reset(runtime: Runtime, baseline: Baseline) -> None:
    tables = Base.metadata.sorted_tables
    with runtime.db.engine.begin() as conn:
        if runtime.db.dialect == "postgresql":
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())
        for table in tables:
            if baseline.rows[table.name]:
                conn.execute(insert(table), baseline.rows[table.name])


@pytest.fixture
def runtime(settings: Settings, baseline: Baseline) -> Iterator[Runtime]:
    """A process's runtime on a database in its freshly migrated state."""
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        _reset(rt, baseline)
        asyncio.run(rt.close())


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The API, without the background dispatcher: tests deliver events with `deliver()`."""
    with TestClient(create_app(runtime=runtime, dispatch=False)) as test_client:
        yield test_client


@pytest.fixture
def deliver(runtime: Runtime) -> Callable[[], int]:
    def run() -> int:
        return asyncio.run(runtime.dispatcher.drain())

    return run


KeyFactory = Callable[..., dict[str, str]]


def fields(problem: dict[str, Any]) -> list[str]:
    """The fields a problem+json names: each invalid field, or the one field of a domain error."""
    if "errors" in problem:
        return [e["field"] for e in problem["errors"]]
    return [problem["field"]]


@pytest.fixture
def api_key(runtime: Runtime) -> KeyFactory:
    """`api_key("channels:read")` -> headers carrying a new key with those scopes."""

    def make(*scopes: str, channel: str | None = None) -> dict[str, str]:
        with runtime.db.unit_of_work() as session:
            created = auth.create_key(
                session, name="test", scopes=scopes or (auth.ADMIN,), channel=channel
            )
        return {"Authorization": f"Bearer {created.key}"}

    return make


@pytest.fixture
def admin(api_key: KeyFactory) -> dict[str, str]:
    return api_key(auth.ADMIN)


# -- NATS ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NatsTarget:
    url: str
    stream: str
    subject_prefix: str


@pytest.fixture
def nats_target() -> Iterator[NatsTarget]:
    """A JetStream stream of this test's own, deleted afterwards."""
    if not reachable(NATS_URL, 4222):
        absent(f"NATS is not reachable at {NATS_URL}")
    tag = uuid.uuid4().hex[:10]
    target = NatsTarget(NATS_URL, f"TEST_{tag}", f"test-{tag}.events")

    async def server_version_and_cleanup(delete: bool) -> str:
        nc = await nats.connect(NATS_URL)
        try:
            if delete:
                with contextlib.suppress(NotFoundError):
                    await nc.jetstream().delete_stream(target.stream)
            v = nc.connected_server_version
            return f"{v.major}.{v.minor}.{v.patch}"
        finally:
            await nc.close()

    ran_on["NATS JetStream"] = asyncio.run(server_version_and_cleanup(False))
    yield target
    asyncio.run(server_version_and_cleanup(True))


@pytest.fixture
def process_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `naadloos` process of a test's own: a migrated SQLite file in the
    test's directory, no NATS."""
    env = {
        **os.environ,
        "NAADLOOS_DATABASE_URL": f"sqlite:///{tmp_path / 'process.db'}",
        "NAADLOOS_LOG_LEVEL": "INFO",
    }
    env.pop("NAADLOOS_NATS_URL", None)
    upgrade = [sys.executable, "-m", "naadloos", "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, capture_output=True)
    return env
