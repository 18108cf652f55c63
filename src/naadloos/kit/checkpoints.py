"""SQLite checkpoints off the request path.

In WAL mode every commit appends pages to the write-ahead log; a checkpoint copies them back
into the database file and syncs it. Left to SQLite (`wal_autocheckpoint`), the checkpoint runs
inside whichever commit crosses the threshold: that request waits for the copy and the fsyncs
(on a tracking batch, 60% of its commit time on average, and all of it in the unlucky one).
Here a thread of the process checkpoints every `interval` seconds instead, on a connection of
its own (PASSIVE: it never waits for, nor blocks, a writer or a reader; the driver releases the
GIL while SQLite works). The request connections keep a far higher `wal_autocheckpoint` as a
backstop, so the log stays bounded should this thread fall behind or stop.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

# Pages (4 KB) a request connection lets the log grow to before it checkpoints itself.
BACKSTOP_PAGES = 40_000  # 160 MB
INLINE_PAGES = 4_000  # without the thread: fewer, larger checkpoints than SQLite's 1,000


class Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on `path` every `interval` seconds until stopped."""

    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.rounds = 0  # checkpoints run, and rounds that failed (for tests and diagnostics)
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if connection is None:
                        connection = sqlite3.connect(
                            self.path, timeout=0, isolation_level=None, check_same_thread=False
                        )
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.rounds += 1
                except sqlite3.Error as error:
                    # The next round tries again; the request connections' backstop bounds the
                    # log meanwhile. A broken connection is replaced.
                    self.failures += 1
                    log.warning("sqlite checkpoint failed: %s", error)
                    if connection is not None:
                        connection.close()
                        connection = None
        finally:
            if connection is not None:
                connection.close()
