"""Periodic jobs (the reservation sweeper, ...): each run is one unit of work. They run beside
the dispatcher, in `naadloos worker` and in an API process that dispatches events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from naadloos.kit.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    run: Callable[[Session], int]  # returns how much it did, for the log


def run_once(db: Database, job: PeriodicJob) -> int:
    with db.unit_of_work() as session:
        done = job.run(session)
    if done:
        log.info("job ran", extra={"job": job.name, "done": done})
    return done


async def run_periodically(db: Database, jobs: Sequence[PeriodicJob], stop: asyncio.Event) -> None:
    if not jobs:
        return
    loop = asyncio.get_running_loop()
    due = {job.name: loop.time() for job in jobs}
    while not stop.is_set():
        for job in jobs:
            if loop.time() >= due[job.name]:
                try:
                    await asyncio.to_thread(run_once, db, job)
                except Exception:
                    log.exception(
                        "job failed; it runs again at its next turn", extra={"job": job.name}
                    )
                due[job.name] = loop.time() + job.every_seconds
        wait = max(0.05, min(due.values()) - loop.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
