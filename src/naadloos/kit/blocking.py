"""Where blocking database work runs during a request (see docs/adr/0003).

SQLite is in-process and answers in microseconds: its calls run on the event loop, as a hop to
a worker thread costs more CPU than the query. PostgreSQL calls cross the network: they run in
the thread pool so concurrent requests overlap their waits.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from naadloos.kit.db import Database

P = ParamSpec("P")
T = TypeVar("T")

_inline: ContextVar[bool] = ContextVar("naadloos_db_inline", default=False)


def place_database_work(db: Database) -> None:
    """Called once per request, before any database work."""
    _inline.set(db.dialect == "sqlite")


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work where this request's database wants it."""
    if _inline.get():
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
