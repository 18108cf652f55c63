"""A long-running process's heap, kept out of the garbage collector's way.

A full (generation 2) collection walks every object the process holds: the modules, FastAPI's
routes and models, SQLAlchemy's tables and compiled statements. In an API process that was
60 to 80 ms a collection, found nothing to free, and stopped every request in flight at once: the
slowest percent of the checkout benchmark's flows were the ones that sat through one. What a
process builds to serve is built once, at start, and lives as long as the process; moving it to
the collector's permanent generation leaves a full collection only what was made since.

Only for processes that serve until they stop (`naadloos serve`, `naadloos worker`): frozen
objects are never collected, so a test suite that builds many apps must not freeze each one.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Collect what is garbage now, then freeze the rest (`gc.freeze`); returns how many
    objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
