"""Where blocking database work runs during a request (see docs/adr/0003 and 0013).

SQLite is in-process and answers in microseconds: its calls run on the event loop, as a hop to
a worker thread costs more CPU than the query. PostgreSQL calls cross the network: a request's
session is bound to an asyncio engine (kit.db) and its work runs in a greenlet on the event
loop (SQLAlchemy's `greenlet_spawn`): the service code stays plain `def`, and each wait for
the server is an await, so concurrent requests overlap their waits on one thread. On worker
threads instead, 8 concurrent checkouts cost 23 ms of CPU each against 14 ms: the threads
passed the GIL to each other some 700 times a checkout.

The worker threads remain for work outside requests that blocks (`in_thread`: the outbox
dispatcher's rounds on PostgreSQL; on SQLite they take turns on the event loop, ADR 0016).
They are naadloos' own: a hop through Starlette's `run_in_threadpool` (anyio) cost 191,000
CPU instructions, through `loop.run_in_executor` 125,000, through a queue these threads block
on 20,000 (callgrind).
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, cast

from sqlalchemy.util import greenlet_spawn

from naadloos.kit.db import Database

P = ParamSpec("P")
T = TypeVar("T")

# For the dispatcher's rounds, one at a time, and what else blocks outside a request.
THREADS = 4

_inline: ContextVar[bool] = ContextVar("naadloos_db_inline", default=False)

_Job = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]
]


class _Workers:
    """Threads that take blocking calls from a queue and hand each answer back to the event
    loop that asked."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = False

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            for n in range(self.size):
                threading.Thread(target=self._work, name=f"naadloos-db-{n}", daemon=True).start()
            self._started = True

    def _work(self) -> None:
        while True:
            loop, future, context, call = self._jobs.get()
            try:
                result = context.run(call)
            except BaseException as error:  # handed to the caller, who re-raises it
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

    async def run(self, call: Callable[[], T]) -> T:
        if not self._started:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, contextvars.copy_context(), call))
        return await _to_the_end(future)


async def _to_the_end(future: asyncio.Future[T]) -> T:
    """The call's answer. A cancelled caller still waits for the call to finish (so that
    nothing, a rollback, touches its session while it runs, and a commit under way is not cut
    short), then the cancellation goes through."""
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                continue
            except BaseException:  # its error matters less than the cancellation
                break
        raise


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_workers = _Workers(THREADS)


def on_the_loop(db: Database) -> bool:
    """Whether `db`'s work runs on the event loop itself: SQLite's, in-process and answered in
    microseconds (requests' work, and the dispatcher's rounds, ADR 0016)."""
    return db.dialect == "sqlite"


def place_database_work(db: Database) -> None:
    """Called once per request, before any database work."""
    _inline.set(on_the_loop(db))


async def in_thread(call: Callable[[], T]) -> T:
    """Run a blocking call on a worker thread (the outbox dispatcher's database work)."""
    return await _workers.run(call)


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a request's database work where its database wants it: SQLite's inline, a
    PostgreSQL request's (its session bound to the asyncio engine) in a greenlet on the event
    loop, each wait for the server an await."""
    if _inline.get():
        return fn(*args, **kwargs)
    work = asyncio.ensure_future(greenlet_spawn(lambda: fn(*args, **kwargs)))
    return cast(T, await _to_the_end(work))
