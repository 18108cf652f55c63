"""Publishing outbox events to NATS JetStream.

Subject `<prefix>.<EventName>`; the event id is the `Nats-Msg-Id`, so a redelivery after a
crash inside the stream's duplicate window is dropped by the server; consumers dedupe by `id`
beyond it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from naadloos.kit.events import Envelope

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 15 * 60


async def _log_error(exc: Exception) -> None:
    log.warning("NATS: %s", exc)


def subject_for(prefix: str, event_name: str) -> str:
    return f"{prefix}.{event_name}"


class NatsPublisher:
    """One connection and a JetStream context; the stream is created if it does not exist."""

    def __init__(
        self, url: str, stream: str, subject_prefix: str, connect_timeout: float = 3.0
    ) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.stream = stream
        self.subject_prefix = subject_prefix
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> JetStreamContext | None:
        """The connection, if it was made on the running event loop (a client is bound to its
        loop; a command that runs several loops one after another gets a fresh one each time)."""
        if self._loop is not asyncio.get_running_loop():
            self._nc = self._js = self._loop = None
        return self._js

    async def _connected(self) -> JetStreamContext:
        nc = Client()
        try:
            # Once connected the client reconnects for ever; the first connect must not hang.
            await asyncio.wait_for(
                nc.connect(
                    self.url,
                    connect_timeout=max(1, math.ceil(self.connect_timeout)),
                    max_reconnect_attempts=-1,
                    error_cb=_log_error,
                ),
                self.connect_timeout,
            )
        except BaseException:
            await nc.close()
            raise
        self._nc = nc
        self._js = nc.jetstream()
        self._loop = asyncio.get_running_loop()
        await ensure_stream(self._js, self.stream, self.subject_prefix)
        return self._js

    async def publish(self, envelope: Envelope) -> bool:
        """Publish and wait for the stream's ack. Returns False when the stream saw it already."""
        js = self._current() or await self._connected()
        ack = await js.publish(
            subject_for(self.subject_prefix, envelope.name),
            json.dumps(envelope.as_json_dict(), separators=(",", ":")).encode(),
            timeout=5,
            stream=self.stream,
            headers={"Nats-Msg-Id": str(envelope.event_id)},
        )
        return not ack.duplicate

    async def close(self) -> None:
        if self._current() is not None and self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()
        self._nc = self._js = self._loop = None


async def ensure_stream(js: JetStreamContext, stream: str, subject_prefix: str) -> None:
    try:
        await js.stream_info(stream)
    except NotFoundError:
        config: dict[str, Any] = {
            "name": stream,
            "subjects": [f"{subject_prefix}.>"],
            "duplicate_window": DUPLICATE_WINDOW_SECONDS,
        }
        await js.add_stream(StreamConfig(**config))
        log.info("created JetStream stream", extra={"stream": stream})
