from __future__ import annotations

from naadloos.kit.events import Event


class ChannelCreated(Event):
    code: str
    name: str
    kind: str
    capabilities: list[str]


class ChannelUpdated(Event):
    """The channel as it is now, and which of its fields changed."""

    code: str
    name: str
    capabilities: list[str]
    active: bool
    changed: list[str]
