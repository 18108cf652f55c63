"""`naadloos serve --workers N`: the connections are spread over the API processes, a taken
port is said before any worker starts, and SIGTERM stops every process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from naadloos.cli import serving

pytestmark = pytest.mark.skipif(not serving.balanced(), reason="SO_REUSEPORT balancing: Linux")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "naadloos", "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as sink:
        return subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)


@pytest.fixture
def served(
    process_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    proc = _serve(process_env, port, tmp_path / "serve.log")
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 or not _answers(port):
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        time.sleep(1)  # both processes listening, not only the first
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _children(pid: int) -> list[int]:
    """The API processes of `naadloos serve` (not multiprocessing's resource tracker)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    workers = []
    for child in map(int, text.split()):
        with contextlib.suppress(FileNotFoundError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
    return workers


def _connections_by_process(port: int, pids: list[int]) -> dict[int, int]:
    """How many established connections to `port` each process holds (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01":  # ESTABLISHED, the server's end
            inodes.add(fields[9])
    held = {}
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        targets = [os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()]
        held[pid] = sum(1 for t in targets if t.startswith("socket:[") and t[8:-1] in inodes)
    return held


def test_connections_are_spread_over_the_api_processes(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(16)]
    try:
        for client in clients:  # each keeps its connection open
            assert client.get("/health").status_code == 200
        held = _connections_by_process(port, _children(proc.pid))
    finally:
        for client in clients:
            client.close()
    assert sum(held.values()) == 16
    # By a hash of the addresses: every process gets some (all 16 on one: 1 in 32,768).
    assert all(n > 0 for n in held.values()), held


def test_sigterm_stops_every_api_process(served: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = served
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert not _answers(port)


def test_a_port_in_use_is_said_before_any_worker_starts(
    process_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(process_env, port, tmp_path / "serve.log")
        assert proc.wait(60) == 1
    said = (tmp_path / "serve.log").read_text()
    assert f"cannot listen on 127.0.0.1:{port}" in said


def test_an_api_process_that_dies_is_replaced(served: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = served
    first, second = _children(proc.pid)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while first in _children(proc.pid) or len(_children(proc.pid)) < 2:
        assert time.monotonic() < deadline, "no API process took the place of the killed one"
        time.sleep(0.2)
    assert second in _children(proc.pid)
    assert proc.poll() is None
    assert _answers(port)
