"""SQLite's write-ahead log is copied back into the database by a thread of its own, so no
request waits for a checkpoint."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from naadloos.kit.checkpoints import BACKSTOP_PAGES, INLINE_PAGES, Checkpointer
from naadloos.kit.db import Database
from naadloos.kit.settings import Settings


def _wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the checkpoint thread did not run in time")
        time.sleep(0.02)


def test_commits_leave_the_checkpoint_to_the_thread(tmp_path: Path) -> None:
    # Given a database whose checkpoints run every 50 ms
    db = Database(
        Settings(database_url=f"sqlite:///{tmp_path}/cp.db", sqlite_checkpoint_seconds=0.05)
    )
    try:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        # When writes fill the log
        for _ in range(20):
            with db.engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO notes (body) VALUES (:body)"),
                    [{"body": "x" * 500} for _ in range(50)],
                )
        with db.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert db.checkpointer is not None
        rounds = db.checkpointer.rounds
        _wait_for(lambda: db.checkpointer is not None and db.checkpointer.rounds > rounds)
    finally:
        db.dispose()

    # Then the request connections only checkpoint as a backstop, and the thread has copied
    # every page back: nothing is left in the log to checkpoint
    assert pages == BACKSTOP_PAGES
    raw = sqlite3.connect(tmp_path / "cp.db")
    busy, logged, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, logged) == (0, copied)
    assert raw.execute("SELECT count(*) FROM notes").fetchone() == (1000,)
    raw.close()


def test_without_the_thread_commits_checkpoint_as_before(tmp_path: Path) -> None:
    db = Database(Settings(database_url=f"sqlite:///{tmp_path}/cp.db", sqlite_checkpoint_seconds=0))
    try:
        with db.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    finally:
        db.dispose()
    assert db.checkpointer is None
    assert pages == INLINE_PAGES


def test_a_failed_checkpoint_is_tried_again(tmp_path: Path) -> None:
    # Given a checkpointer whose database cannot be opened yet
    missing = tmp_path / "later" / "cp.db"
    checkpointer = Checkpointer(str(missing), 0.02)
    checkpointer.start()
    try:
        _wait_for(lambda: checkpointer.failures > 0)
        # When the database appears
        missing.parent.mkdir()
        sqlite3.connect(missing).close()
        # Then the thread goes on and checkpoints it
        _wait_for(lambda: checkpointer.rounds > 0)
    finally:
        checkpointer.stop()
    assert not checkpointer.running
