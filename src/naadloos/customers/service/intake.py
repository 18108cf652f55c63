"""A batch of tracking messages as the Segment spec allows them: each message within 32 KB, a
valid message of a known channel with at least one usable identifier (normalised; invalid and
blocked values left out), its timestamp corrected for the client's clock skew. What fails is
reported with its index and the rest is kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from naadloos.channels import service as channels
from naadloos.customers.identifiers import (
    TRAIT_IDENTIFIERS,
    IdentifierRef,
    IdentifierType,
    InvalidIdentifier,
    parse_ref,
)
from naadloos.customers.schemas import RejectedMessage, TrackingMessage
from naadloos.kit.errors import NotFound
from naadloos.kit.time import as_utc

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024


@dataclass
class Accepted:
    index: int
    message: TrackingMessage
    message_id: str
    refs: list[IdentifierRef]
    timestamp: datetime
    channel: str | None


def corrected_timestamp(
    message: TrackingMessage, batch_sent_at: datetime | None, received_at: datetime
) -> datetime:
    """The spec's clock-skew correction: timestamp = receivedAt - (sentAt - originalTimestamp)."""
    original = message.originalTimestamp or message.timestamp
    sent = message.sentAt or batch_sent_at
    if original is None:
        return received_at
    original = as_utc(original)
    if sent is None:
        return original
    return received_at - (as_utc(sent) - original)


def identifiers_of(message: TrackingMessage) -> list[IdentifierRef]:
    """The identifiers a message carries, normalised; invalid and blocked values are left out."""
    found: list[tuple[str, object]] = []
    if message.userId:
        found.append((IdentifierType.USER_ID, message.userId))
    if message.anonymousId:
        found.append((IdentifierType.ANONYMOUS_ID, message.anonymousId))
    if message.previousId:
        found.append((IdentifierType.ANONYMOUS_ID, message.previousId))
    trait_sources = [message.traits] if message.type == "identify" else []
    context_traits = message.context.get("traits")
    if isinstance(context_traits, dict):
        trait_sources.append(context_traits)
    for traits in trait_sources:
        for key, kind in TRAIT_IDENTIFIERS.items():
            if traits.get(key) not in (None, ""):
                found.append((kind, traits[key]))
    refs: list[IdentifierRef] = []
    for type_, raw in found:
        ref = _usable_ref(type_, raw) if isinstance(raw, str) else _usable_value(type_, raw)
        if ref is not None and ref not in refs:
            refs.append(ref)
    return refs


def _usable_value(type_: str, raw: object) -> IdentifierRef | None:
    """`raw` normalised as an identifier of `type_`; None when invalid or blocked."""
    try:
        ref = parse_ref(type_, raw)
    except InvalidIdentifier:
        return None
    return None if ref.policy.blocks(ref.value) else ref


# The same devices and accounts come back in batch after batch; policies never change while
# the process runs, so what a text normalises to (an email validated, a phone number parsed)
# is worked out once.
_usable_ref = lru_cache(maxsize=32_768)(_usable_value)


def _reject(index: int, raw: dict[str, Any], code: str, detail: str) -> RejectedMessage:
    message_id = raw.get("messageId")
    return RejectedMessage(
        index=index,
        messageId=message_id if isinstance(message_id, str) else None,
        code=code,
        detail=detail,
    )


def _validation_detail(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"]).removeprefix("Value error, ")


@dataclass
class Batch:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[RejectedMessage] = field(default_factory=list)
    duplicates: int = 0


def check(
    session: Session,
    raw_messages: Sequence[dict[str, Any]],
    *,
    default_type: str | None,
    key_channel: str | None,
    batch_sent_at: datetime | None,
    received_at: datetime,
    check_sizes: bool,
) -> Batch:
    batch = Batch()
    known_channels: dict[str, bool] = {}
    for index, raw in enumerate(raw_messages):
        if not isinstance(raw, dict):
            batch.rejected.append(_reject(index, {}, "invalid_message", "not a JSON object"))
            continue
        if check_sizes and len(json.dumps(raw, default=str)) > MAX_MESSAGE_BYTES:
            batch.rejected.append(
                _reject(index, raw, "message_too_large", "a message may be at most 32 KB")
            )
            continue
        typed = raw if default_type is None else {**raw, "type": default_type}
        try:
            message = TrackingMessage.model_validate(typed)
        except ValidationError as exc:
            batch.rejected.append(_reject(index, raw, "validation_failed", _validation_detail(exc)))
            continue
        channel = key_channel
        asked = message.context.get("channel")
        if channel is None and isinstance(asked, str):
            if asked not in known_channels:
                try:
                    channels.get_channel(session, asked)
                    known_channels[asked] = True
                except NotFound:
                    known_channels[asked] = False
            if not known_channels[asked]:
                batch.rejected.append(
                    _reject(index, raw, "unknown_channel", f"context.channel: no channel {asked!r}")
                )
                continue
            channel = asked
        refs = identifiers_of(message)
        if not refs:
            batch.rejected.append(
                _reject(index, raw, "no_identifier", "every identifier is invalid or blocked")
            )
            continue
        batch.accepted.append(
            Accepted(
                index=index,
                message=message,
                message_id=message.messageId or str(uuid.uuid4()),
                refs=refs,
                timestamp=corrected_timestamp(message, batch_sent_at, received_at),
                channel=channel,
            )
        )
    return batch
