"""Where a request's database work runs: PostgreSQL's in a greenlet on the event loop, waits
as awaits; and the worker threads that blocking work outside requests is handed to."""

from __future__ import annotations

import asyncio
import threading
import time
from contextvars import ContextVar

import pytest
from sqlalchemy.util import await_only

from naadloos.kit import blocking

who: ContextVar[str] = ContextVar("who", default="nobody")


def as_for_postgresql() -> None:
    blocking._inline.set(False)


def test_a_requests_call_runs_on_the_loop_with_the_callers_context() -> None:
    async def main() -> tuple[str, str, int]:
        as_for_postgresql()
        who.set("request 7")

        def call(x: int) -> tuple[str, str, int]:
            await_only(asyncio.sleep(0))  # a wait for the server, inside the plain function
            return threading.current_thread().name, who.get(), x * 2

        return await blocking.run_db(call, 21)

    thread, seen, answer = asyncio.run(main())
    assert thread == threading.current_thread().name
    assert seen == "request 7"
    assert answer == 42


def test_blocking_work_outside_requests_runs_on_a_worker_thread() -> None:
    async def main() -> tuple[str, str]:
        who.set("dispatcher")
        return await blocking.in_thread(lambda: (threading.current_thread().name, who.get()))

    thread, seen = asyncio.run(main())
    assert thread.startswith("naadloos-db-")
    assert seen == "dispatcher"


def test_an_error_reaches_the_caller() -> None:
    def fails() -> None:
        raise LookupError("no such row")

    async def main() -> None:
        as_for_postgresql()
        await blocking.run_db(fails)

    with pytest.raises(LookupError, match="no such row"):
        asyncio.run(main())
    with pytest.raises(LookupError, match="no such row"):
        asyncio.run(blocking.in_thread(fails))


def test_a_cancelled_request_waits_for_its_call_to_finish() -> None:
    """A client that goes away cancels the request; its database work is not cut short (a
    commit under way completes), and the cancellation waits for it: the rollback that follows
    never runs beside the call."""
    finished: list[float] = []

    def slow() -> None:
        await_only(asyncio.sleep(0.3))
        finished.append(time.monotonic())

    async def main() -> float:
        as_for_postgresql()
        task = asyncio.create_task(blocking.run_db(slow))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic()

    cancelled_at = asyncio.run(main())
    assert finished, "the cancellation went through before the call finished"
    assert finished[0] <= cancelled_at


def test_concurrent_requests_overlap_their_waits_on_one_thread() -> None:
    waiting = 0
    most = 0

    async def main() -> list[int]:
        as_for_postgresql()

        def call(i: int) -> int:
            nonlocal waiting, most
            waiting += 1
            most = max(most, waiting)
            await_only(asyncio.sleep(0.2))  # the server's answer
            waiting -= 1
            return i

        return list(await asyncio.gather(*(blocking.run_db(call, i) for i in range(100))))

    assert asyncio.run(main()) == list(range(100))
    assert most > 1  # one request's wait did not hold up the others
