"""Identifiers: UUIDv7, time-ordered, so new rows land at the end of an index."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_millis = 0
_counter = 0


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter that keeps ids made
    in the same millisecond by this process in order (method 1 of the RFC), 62 random bits."""
    global _last_millis, _counter  # noqa: PLW0603 - one clock per process, by design
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            _last_millis, _counter = millis, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:  # same millisecond (or the clock stepped back): count on
            _counter += 1
            if _counter > 0xFFF:
                _last_millis, _counter = _last_millis + 1, 0
            millis = _last_millis
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
