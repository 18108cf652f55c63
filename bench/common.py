from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from naadloos import migrations
from naadloos.kit.settings import Settings

POSTGRES_URL = os.environ.get(
    "NAADLOOS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def report(metric: str, value: float, unit: str, ceiling: float | None, **extra: object) -> None:
    ratio = round(value / ceiling, 3) if ceiling else None
    line = {
        "metric": metric,
        "value": round(value, 4 if unit == "ratio" else 2),
        "unit": unit,
        "ceiling": None if ceiling is None else round(ceiling, 2),
        "ratio": ratio,
        **extra,
    }
    print(json.dumps(line), flush=True)


def stamp(db: BenchDatabase, t: datetime) -> Any:
    """A timestamp as the bare driver writes it for naadloos' UTC columns."""
    return t.replace(tzinfo=None).isoformat(" ", "microseconds") if db.name == "sqlite" else t


def ident(db: BenchDatabase, u: uuid.UUID) -> Any:
    """A UUID as the bare driver writes it for naadloos' UUID columns."""
    return u.hex if db.name == "sqlite" else u


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 1):
            return True
    except OSError:
        return False


@dataclass
class BenchDatabase:
    name: str  # "sqlite" | "postgresql"
    settings: Settings
    raw_dsn: str  # for the bare driver


@contextmanager
def fresh_database(backend: str) -> Iterator[BenchDatabase]:
    """A freshly migrated database of its own (a temp file, or a schema of its own)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"
            settings = Settings(database_url=f"sqlite:///{path}")
            migrations.upgrade(settings)
            yield BenchDatabase("sqlite", settings, str(path))
        return
    schema = f"naadloos_bench_{os.getpid()}"
    admin = create_engine(Settings(database_url=POSTGRES_URL).sqlalchemy_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGRES_URL else "?"
    settings = Settings(database_url=f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}")
    migrations.upgrade(settings)
    try:
        yield BenchDatabase(
            "postgresql", settings, f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(settings: Settings) -> Iterator[str]:
    """`naadloos serve` in a process of its own (one API process, as in production per core)."""
    port = free_port()
    env = {
        **os.environ,
        "NAADLOOS_DATABASE_URL": settings.database_url,
        "NAADLOOS_LOG_LEVEL": "WARNING",
    }
    env.pop("NAADLOOS_NATS_URL", None)
    # The server's log goes to a file: a pipe nobody reads fills up and stalls the server.
    log = Path(tempfile.mkdtemp(prefix="naadloos-bench-")) / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "naadloos", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start; see {log}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
        if errors:
            print(f"bench: the server logged {len(errors)} errors; see {log}", file=sys.stderr)
