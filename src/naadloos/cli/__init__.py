"""The `naadloos` command: serve, worker, db, keys, channels, demo."""

from __future__ import annotations

from naadloos.cli.main import app, main

__all__ = ["app", "main"]
