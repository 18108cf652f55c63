"""Where blocking database work runs during a request (see docs/adr/0003).

SQLite is in-process and answers in microseconds: its calls run on the event loop, as a hop to
a worker thread costs more CPU than the query. PostgreSQL calls cross the network: they run on
worker threads so concurrent requests overlap their waits.

The threads are naadloos' own: a hop through Starlette's `run_in_threadpool` (anyio) cost
191,000 CPU instructions, through `loop.run_in_executor` 125,000, through a queue these
threads block on 20,000 (callgrind). A PostgreSQL write without an Idempotency-Key makes one
hop (its commit runs in it); reads and writes with a key make two (their transaction ends in a
hop of its own).
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

from naadloos.kit.db import Database

P = ParamSpec("P")
T = TypeVar("T")

# As many as anyio's default: a transaction can hold row locks while it waits for its next
# hop, so fewer threads than concurrent requests could leave a lock holder without a thread.
THREADS = 40

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
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The call runs on regardless: wait for it, so that nothing (a rollback) touches
            # its session while it still does, then let the cancellation through.
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


def place_database_work(db: Database) -> None:
    """Called once per request, before any database work."""
    _inline.set(db.dialect == "sqlite")


async def in_thread(call: Callable[[], T]) -> T:
    """Run a blocking call on a worker thread (the outbox dispatcher's database work)."""
    return await _workers.run(call)


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work where this request's database wants it."""
    if _inline.get():
        return fn(*args, **kwargs)
    return await _workers.run(lambda: fn(*args, **kwargs))
