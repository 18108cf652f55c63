"""The worker threads that PostgreSQL requests hand their database calls to."""

from __future__ import annotations

import asyncio
import threading
import time
from contextvars import ContextVar

import pytest

from naadloos.kit import blocking

who: ContextVar[str] = ContextVar("who", default="nobody")


def off_the_loop() -> None:
    blocking._inline.set(False)


def test_a_call_runs_on_a_worker_thread_with_the_callers_context() -> None:
    async def main() -> tuple[str, str, int]:
        off_the_loop()
        who.set("request 7")

        def call(x: int) -> tuple[str, str, int]:
            return threading.current_thread().name, who.get(), x * 2

        return await blocking.run_db(call, 21)

    thread, seen, answer = asyncio.run(main())
    assert thread.startswith("naadloos-db-")
    assert seen == "request 7"
    assert answer == 42


def test_an_error_reaches_the_caller() -> None:
    def fails() -> None:
        raise LookupError("no such row")

    async def main() -> None:
        off_the_loop()
        await blocking.run_db(fails)

    with pytest.raises(LookupError, match="no such row"):
        asyncio.run(main())


def test_a_cancelled_request_waits_for_its_call_to_finish() -> None:
    """A client that goes away cancels the request; its database call cannot be stopped, so the
    cancellation waits for it: the rollback that follows never runs beside the call."""
    finished: list[float] = []

    def slow() -> None:
        time.sleep(0.3)
        finished.append(time.monotonic())

    async def main() -> float:
        off_the_loop()
        task = asyncio.create_task(blocking.run_db(slow))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic()

    cancelled_at = asyncio.run(main())
    assert finished, "the cancellation went through before the call finished"
    assert finished[0] <= cancelled_at


def test_many_calls_at_once_all_answer() -> None:
    async def main() -> list[int]:
        off_the_loop()

        def call(i: int) -> int:
            time.sleep(0.01)
            return i

        return list(await asyncio.gather(*(blocking.run_db(call, i) for i in range(100))))

    assert asyncio.run(main()) == list(range(100))
