"""A served process freezes what it built at start out of the collector's full collections;
an app built for a test (or embedded) does not, as its frozen objects could never be freed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Run in a process of its own: freezing would pin the test process's heap for the suite.
PROBE = """
import gc, json, sys
from fastapi.testclient import TestClient
from naadloos.api import app as factory

build = factory.create_served_app if sys.argv[1] == "served" else factory.create_app
app = build()
before = gc.get_freeze_count()
with TestClient(app) as client:
    frozen = gc.get_freeze_count()
    status = client.get("/health").status_code
    garbage = []
    garbage.append(garbage)  # a cycle made after start is still collected
    del garbage
    collected = gc.collect()
print(json.dumps({"before": before, "frozen": frozen, "status": status, "collected": collected}))
"""


def _probe(kind: str, env: dict[str, str]) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, kind],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("kind", ["served", "embedded"])
def test_only_a_served_app_freezes_its_heap_at_start(
    kind: str, process_env: dict[str, str]
) -> None:
    result = _probe(kind, process_env)
    assert result["before"] == 0
    assert result["status"] == 200
    if kind == "served":
        # The modules, routes, models and engine: tens of thousands of objects.
        assert result["frozen"] > 10_000
    else:
        assert result["frozen"] == 0
    assert result["collected"] >= 1
