"""`naadloos serve --workers N`: API processes that share the load.

uvicorn's own supervisor binds one listening socket and lets every worker accept from it. The
kernel wakes the waiters of one accept queue last-in first-out, so the worker that accepted
last accepts again: with eight clients, the checkout benchmark found seven connections on one
process and one on the other (ADR 0015). Here each worker binds
its own socket with `SO_REUSEPORT`, and the kernel spreads new connections across the
sockets by a hash of their addresses. Where the option is missing (not Linux), the workers
share uvicorn's socket as before.

The parent only watches: it holds the port (a bound socket that does not listen, so no
connection is sent to it), restarts a worker that dies after it started serving, stops every
worker when one cannot start, and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from naadloos.kit.logs import configure
from naadloos.kit.settings import Settings

log = logging.getLogger("naadloos.serve")

APP = "naadloos.api.app:create_served_app"
STOP_SECONDS = 15


def balanced() -> bool:
    """Whether this platform spreads connections over sockets bound with `SO_REUSEPORT`."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def event_loop(settings: Settings) -> str:
    """uvicorn's `loop` for `settings.event_loop` (ADR 0016): on SQLite, where a request's
    work is all CPU on the event loop, the standard library's loop, which reads the sockets
    between two requests and so serves them in turn; uvloop runs every ready request before
    it reads again, and a request that came just after a read waited two rounds. On
    PostgreSQL a request awaits the server a dozen times, where uvloop costs less."""
    if settings.event_loop == "auto":
        return "asyncio" if settings.dialect == "sqlite" else "auto"
    return settings.event_loop


def _worker(host: str, port: int) -> None:  # pragma: no cover - runs in a child process
    """One API process. It exits with `STARTUP_FAILURE` when it never served: its
    replacement would fail the same way, so the parent stops instead of restarting it."""
    try:
        settings = Settings()
        configure(settings.log_level, settings.log_format)
        sock = _socket(host, port)
        sock.listen(2048)
        server = uvicorn.Server(
            uvicorn.Config(
                APP, factory=True, log_config=None, access_log=False, loop=event_loop(settings)
            )
        )
    except Exception:
        log.exception("an API process could not start")
        sys.exit(STARTUP_FAILURE)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve(host: str, port: int, workers: int, settings: Settings) -> int:
    """Serve with `workers` API processes until SIGINT or SIGTERM; the exit status."""
    if workers == 1 or not balanced():
        uvicorn.run(
            APP, factory=True, host=host, port=port, workers=workers, log_config=None,
            access_log=False, loop=event_loop(settings),
        )  # fmt: skip
        return 0
    try:
        held = _socket(host, port)  # the port is taken: say so before any worker starts
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", host, port, error.strerror)
        return 1
    try:
        return _supervise(host, port, workers)
    finally:
        held.close()


def _supervise(host: str, port: int, workers: int) -> int:
    stop = threading.Event()

    def asked_to_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, asked_to_stop)
    spawn = multiprocessing.get_context("spawn")

    def start() -> BaseProcess:
        process = spawn.Process(target=_worker, args=(host, port), name="naadloos-api")
        process.start()
        return process

    running = [start() for _ in range(workers)]
    log.info("serving on http://%s:%d with %d API processes", host, port, workers)
    status = 0
    try:
        while not stop.wait(0.5):
            for n, process in enumerate(running):
                if process.is_alive():
                    continue
                if stop.is_set():  # a Ctrl+C reaches the workers too, maybe before us
                    break
                if process.exitcode == STARTUP_FAILURE:
                    log.error("an API process could not start; stopping")
                    status = 1
                    stop.set()
                    break
                log.warning("an API process stopped (exit %s); starting another",
                            process.exitcode)  # fmt: skip
                running[n] = start()
    finally:
        for process in running:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
    return status
