"""Every benchmark still runs: `python -m bench --smoke` runs each at a tiny size, on SQLite and
on PostgreSQL, through the same code as `make bench` (its figures mean nothing at that size).
A schema change that breaks a benchmark's raw-SQL ceiling fails here, not weeks later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.__main__ import BENCHMARKS
from bench.common import postgres_available

ROOT = Path(__file__).resolve().parents[1]
# Each benchmark's metric names start so.
METRICS = {
    "http_api": "http.",
    "outbox": "outbox.",
    "ingest": "ingest.",
    "matching": "matching.",
    "customer360": "customer360.",
    "availability": "inventory.availability",
    "reservations": "inventory.reservations",
    "search": "catalog.search",
    "checkout": "orders.checkouts",
}


@pytest.mark.timeout(900)
def test_every_benchmark_runs_at_a_tiny_size() -> None:
    assert set(METRICS) == set(BENCHMARKS)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=850,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    for backend in backends:
        for name, prefix in METRICS.items():
            assert any(
                m["metric"].startswith(prefix) and m["metric"].endswith(backend) for m in lines
            ), f"{name} reported nothing on {backend}"
