"""Use cases of the channel registry. Services flush; the request or job boundary commits."""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from naadloos.channels.events import ChannelCreated, ChannelUpdated
from naadloos.channels.kinds import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    PHYSICAL_KINDS,
    PHYSICAL_ONLY,
    Capability,
    ChannelKind,
)
from naadloos.channels.models import Channel
from naadloos.channels.schemas import (
    CapabilityMatrix,
    ChannelCreate,
    ChannelUpdate,
    MatrixRow,
)
from naadloos.kit.errors import AlreadyExists, NotFound, ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.pagination import PageParams, paginate
from naadloos.kit.time import utcnow


class ChannelNotFound(NotFound):
    code = "channel_not_found"
    title = "Channel not found"


class ChannelExists(AlreadyExists):
    code = "channel_exists"
    title = "Channel already exists"


def store_code(name: str) -> str:
    """`Amsterdam Centrum` -> `store:amsterdam-centrum`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:
        raise ValidationFailed.field("name", f"cannot make a channel code from {name!r}")
    return f"store:{slug}"


def _checked_capabilities(kind: ChannelKind, capabilities: Iterable[Capability]) -> list[str]:
    chosen = set(capabilities)
    if kind not in PHYSICAL_KINDS and (physical := chosen & PHYSICAL_ONLY):
        names = ", ".join(sorted(physical))
        raise ValidationFailed.field(
            "capabilities", f"{names} needs a physical place; a {kind} channel cannot offer it"
        )
    return [c.value for c in ALL_CAPABILITIES if c in chosen]


_EXISTS = select(Channel.id).where(Channel.code == bindparam("code"))
# Channels are never deleted (only deactivated), so a code once seen stays known: remembered per
# engine (per database), it costs no query on a hot path afterwards.
_SEEN: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()


def channel_exists(session: Session, code: str) -> bool:
    """Whether a channel with this code exists (active or not), cheaply for hot paths."""
    engine = session.get_bind().engine
    seen = _SEEN.setdefault(engine, set())
    if code in seen:
        return True
    if session.connection().execute(_EXISTS, {"code": code}).first() is None:
        return False
    seen.add(code)
    return True


def get_channel(session: Session, code: str, *, field: str = "code") -> Channel:
    """The channel, or a 404 naming `field` (the caller's name for the channel code)."""
    channel = session.scalar(select(Channel).where(Channel.code == code))
    if channel is None:
        raise ChannelNotFound(f"no channel with code {code!r}", field=field)
    return channel


def create_channel(session: Session, data: ChannelCreate) -> Channel:
    if session.scalar(select(Channel.id).where(Channel.code == data.code)) is not None:
        raise ChannelExists(f"a channel with code {data.code!r} exists", field="code")
    capabilities = _checked_capabilities(
        data.kind,
        DEFAULT_CAPABILITIES[data.kind] if data.capabilities is None else data.capabilities,
    )
    now = utcnow()
    channel = Channel(
        id=new_id(),
        code=data.code,
        name=data.name,
        kind=data.kind.value,
        capabilities=capabilities,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    session.add(channel)
    try:
        session.flush()
    except IntegrityError as exc:  # created concurrently under the same code
        raise ChannelExists(f"a channel with code {data.code!r} exists", field="code") from exc
    emit(
        session,
        ChannelCreated(
            code=channel.code, name=channel.name, kind=channel.kind, capabilities=capabilities
        ),
    )
    return channel


def update_channel(session: Session, code: str, data: ChannelUpdate) -> Channel:
    channel = get_channel(session, code)
    changed: list[str] = []
    if data.name is not None and data.name != channel.name:
        channel.name = data.name
        changed.append("name")
    if data.capabilities is not None:
        capabilities = _checked_capabilities(ChannelKind(channel.kind), data.capabilities)
        if capabilities != channel.capabilities:
            channel.capabilities = capabilities
            changed.append("capabilities")
    if data.active is not None and data.active != channel.active:
        channel.active = data.active
        changed.append("active")
    if changed:
        channel.updated_at = utcnow()
        session.flush()
        emit(
            session,
            ChannelUpdated(
                code=channel.code,
                name=channel.name,
                capabilities=list(channel.capabilities),
                active=channel.active,
                changed=changed,
            ),
        )
    return channel


def list_channels(
    session: Session,
    params: PageParams,
    *,
    kind: ChannelKind | None = None,
    active: bool | None = None,
) -> tuple[Sequence[Channel], str | None]:
    stmt = select(Channel)
    if kind is not None:
        stmt = stmt.where(Channel.kind == kind.value)
    if active is not None:
        stmt = stmt.where(Channel.active == active)
    return paginate(session, stmt, Channel.code, params)


def capability_matrix(session: Session, *, include_inactive: bool = False) -> CapabilityMatrix:
    stmt = select(Channel).order_by(Channel.kind, Channel.code)
    if not include_inactive:
        stmt = stmt.where(Channel.active.is_(True))
    channels = list(session.scalars(stmt))
    rows = [
        MatrixRow(
            code=c.code,
            name=c.name,
            kind=ChannelKind(c.kind),
            active=c.active,
            capabilities={cap: cap.value in c.capabilities for cap in ALL_CAPABILITIES},
        )
        for c in channels
    ]
    by_capability = {
        cap: [c.code for c in channels if cap.value in c.capabilities] for cap in ALL_CAPABILITIES
    }
    return CapabilityMatrix(
        capabilities=list(ALL_CAPABILITIES), channels=rows, by_capability=by_capability
    )
