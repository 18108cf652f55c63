"""A request whose body arrives slowly holds no lock while it waits for it: on SQLite the
database work of every request runs on the event loop, and a write transaction left open
across that wait made the next writer's `BEGIN IMMEDIATE` sleep in SQLite's busy handler with
the event loop in it, the slow request's own body unread, until the busy timeout."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _key(env: dict[str, str], name: str) -> str:
    command = [sys.executable, "-m", "naadloos", "keys", "create", "--name", name, "--scopes", "*"]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def served(process_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**process_env, "NAADLOOS_SQLITE_BUSY_TIMEOUT_MS": "4000"}
    keys = {"slow": _key(env, "slow uploader"), "other": _key(env, "another till")}
    port = _free_port()
    command = [sys.executable, "-m", "naadloos", "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the API did not start"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, keys
    finally:
        proc.terminate()
        proc.wait(15)


def test_a_slow_upload_does_not_hold_up_other_writers(
    served: tuple[str, dict[str, str]],
) -> None:
    base, keys = served
    port = int(base.rsplit(":", 1)[1])
    body = json.dumps({"code": "store:slow", "name": "Slow", "kind": "store"}).encode()
    head = (
        f"POST /v1/channels HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {keys['slow']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as slow:
        # The headers and half the body: the key is looked up (not yet cached), the rest of
        # the body is awaited.
        slow.sendall(head + body[: len(body) // 2])
        time.sleep(0.5)

        started = time.monotonic()
        other = httpx.post(
            f"{base}/v1/channels",
            json={"code": "store:other", "name": "Other", "kind": "store"},
            headers={"Authorization": f"Bearer {keys['other']}"},
            timeout=10,
        )
        waited = time.monotonic() - started

        slow.sendall(body[len(body) // 2 :])
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += slow.recv(65536)

    assert other.status_code == 201, other.text
    assert waited < 2, f"another writer waited {waited:.1f} s for the slow upload"
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    channels = httpx.get(
        f"{base}/v1/channels", headers={"Authorization": f"Bearer {keys['other']}"}, timeout=5
    ).json()
    codes = {c["code"] for c in (channels["items"] if isinstance(channels, dict) else channels)}
    assert {"store:slow", "store:other"} <= codes
