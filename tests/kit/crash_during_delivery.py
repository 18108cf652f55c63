"""Run as a separate process by the outbox tests: commit a change, then die by SIGKILL at a chosen
moment of its delivery. Settings come from NAADLOOS_* environment variables.

    python crash_during_delivery.py after-commit    # dies before the dispatcher runs at all
    python crash_during_delivery.py after-publish   # dies after NATS acked and the consumer ran,
                                                    # before the outbox row was marked delivered
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from naadloos.channels import service
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import ChannelCreate
from naadloos.kit.settings import Settings
from naadloos.runtime import build_runtime

CONSUMER = "crash-test-consumer"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(moment: str) -> None:
    runtime = build_runtime(Settings())
    runtime.bus.subscribe("ChannelCreated", CONSUMER, lambda _session, _envelope: None)
    with runtime.db.unit_of_work() as session:
        service.create_channel(
            session, ChannelCreate(code="store:crash", name="Crash", kind=ChannelKind.STORE)
        )
    if moment == "after-commit":
        die()
    runtime.dispatcher.settle = lambda *_args: die()  # type: ignore[method-assign]
    asyncio.run(runtime.dispatcher.run_once())
    sys.exit("the dispatcher returned without settling")


if __name__ == "__main__":
    main(sys.argv[1])
