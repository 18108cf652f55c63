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


@dataclass(frozen=True)
class Layout:
    """How the API is deployed for a run: `serve --workers N`, delivering events in the API
    processes or (`separate_worker`) with `--no-dispatch` and a `naadloos worker` beside them."""

    api_processes: int = 1
    separate_worker: bool = False

    @property
    def name(self) -> str:
        worker = " + worker" if self.separate_worker else ""
        return f"{self.api_processes} API process{'es' if self.api_processes > 1 else ''}{worker}"

    @property
    def suffix(self) -> str:
        """What a metric measured in this layout ends with (nothing for one API process)."""
        if self == ONE_PROCESS:
            return ""
        return f".{self.api_processes}api" + ("_worker" if self.separate_worker else "")


ONE_PROCESS = Layout()
# What the README recommends for PostgreSQL, on this 2-core machine: an API process per core,
# events and periodic jobs in a worker of their own (`serve --workers 2 --no-dispatch`).
PRODUCTION = Layout(api_processes=2, separate_worker=True)


@contextmanager
def api_server(settings: Settings, layout: Layout = ONE_PROCESS) -> Iterator[str]:
    """`naadloos serve` in a process of its own: by default one API process that delivers
    events too; `layout` for more, as production on PostgreSQL runs."""
    port = free_port()
    env = {
        **os.environ,
        "NAADLOOS_DATABASE_URL": settings.database_url,
        "NAADLOOS_LOG_LEVEL": "WARNING",
    }
    env.pop("NAADLOOS_NATS_URL", None)
    serve = [sys.executable, "-m", "naadloos", "serve", "--port", str(port)]
    serve += ["--workers", str(layout.api_processes)]
    commands = {"serve": serve}
    if layout.separate_worker:
        serve.append("--no-dispatch")
        commands["worker"] = [sys.executable, "-m", "naadloos", "worker"]
    # Logs go to files: a pipe nobody reads fills up and stalls the process.
    logs = Path(tempfile.mkdtemp(prefix="naadloos-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    for name, command in commands.items():
        with (logs / f"{name}.log").open("w") as sink:
            procs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start; see {logs}")
            time.sleep(0.1)
        yield base
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
        for name in commands:
            log = logs / f"{name}.log"
            errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
            if errors:
                print(f"bench: {name} logged {len(errors)} errors; see {log}", file=sys.stderr)
