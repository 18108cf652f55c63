"""API keys and scopes.

A key looks like `nl_<prefix>_<secret>`. Only SHA-256 of the whole key is stored (the secret has
256 bits of entropy, so a slow password hash would add latency and no safety); the prefix finds
the row. Scopes are `<module>:read`, `<module>:write` (which includes read), `track` for the
tracking API, and `*` for an administrator. A key may be bound to a channel: whatever it does is
done through that channel (the till of a store acts as channel `store:<name>`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.kit.blocking import run_db
from naadloos.kit.errors import MissingScope, NotFound, Unauthorized, ValidationFailed
from naadloos.kit.ids import new_id
from naadloos.kit.models import ApiKey
from naadloos.kit.time import utcnow

# Modules that own scopes. A module adds its name here when it lands.
SCOPE_MODULES = ("channels", "customers", "catalog", "inventory", "orders")
ADMIN = "*"
TRACK = "track"
_SCOPE = re.compile(r"^(?P<module>[a-z_]+):(?P<access>read|write)$")
_KEY = re.compile(r"^nl_(?P<prefix>[a-z0-9]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    result: list[str] = []
    for raw in scopes:
        scope = raw.strip()
        match = _SCOPE.match(scope)
        known = scope in (ADMIN, TRACK) or (match and match["module"] in SCOPE_MODULES)
        if not known:
            allowed = ", ".join([ADMIN, TRACK, *(f"{m}:read|write" for m in SCOPE_MODULES)])
            raise ValidationFailed.field("scopes", f"unknown scope {scope!r}; known: {allowed}")
        if scope not in result:
            result.append(scope)
    if not result:
        raise ValidationFailed.field("scopes", "a key needs at least one scope")
    return result


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the API key's id and name, its scopes and the channel it is bound to."""

    key_id: uuid.UUID
    name: str
    scopes: frozenset[str]
    channel: str | None

    def allows(self, scope: str) -> bool:
        if ADMIN in self.scopes or scope in self.scopes:
            return True
        module, _, access = scope.partition(":")
        return access == "read" and f"{module}:write" in self.scopes


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: str
    record: ApiKey


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def create_key(
    session: Session, *, name: str, scopes: Iterable[str], channel: str | None = None
) -> CreatedKey:
    """Create a key; the returned `key` string is the only time the secret exists in clear."""
    name = name.strip()
    if not name:
        raise ValidationFailed.field("name", "a key needs a name")
    checked = validate_scopes(scopes)
    prefix = secrets.token_hex(6)
    key = f"nl_{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(
        id=new_id(),
        prefix=prefix,
        secret_hash=_hash(key),
        name=name,
        scopes=checked,
        channel=channel,
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return CreatedKey(key, record)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(session: Session, prefix: str) -> ApiKey:
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if record is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record


def verify_key(session: Session, key: str) -> Principal:
    match = _KEY.match(key)
    if match is None:
        raise Unauthorized("the API key is malformed")
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == match["prefix"]))
    if record is None or not hmac.compare_digest(record.secret_hash, _hash(key)):
        raise Unauthorized("the API key is not valid")
    if record.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    return Principal(record.id, record.name, frozenset(record.scopes), record.channel)


# -- FastAPI dependencies ----------------------------------------------------------------------

# How the API documents its authentication (see `api.docs.declare_security`): declared once on
# the OpenAPI document, not as a dependency, which FastAPI would solve on every request.
SECURITY_SCHEME = {
    "HTTPBearer": {
        "type": "http",
        "description": "An API key: `Bearer nl_...`",
        "scheme": "bearer",
    }
}


def _key_from_header(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip()
    if scheme == "basic":  # Segment-style clients send the write key as the basic-auth user
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise Unauthorized("the basic authorization header is malformed") from exc
        return decoded.partition(":")[0]
    raise Unauthorized(f"unsupported authorization scheme {scheme!r}; use Bearer")


class KeyCache:
    """Recently verified keys, so most requests cost no key lookup. A key revoked elsewhere
    stops working on every API process within `ttl` seconds."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[bytes, tuple[float, Principal]] = {}

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(_hash(key))
        if entry is None or entry[0] < self.clock():
            return None
        return entry[1]

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[_hash(key)] = (self.clock() + self.ttl, principal)


def _look_up(session: Session, key: str) -> Principal:
    """`verify_key` in the request's session, ending the transaction the lookup began: a
    request is authenticated before its body has arrived, and on SQLite a write request's
    first statement takes the write lock, which a slow client's upload would hold, and
    every other writer of the process wait for, while it came in."""
    began = not session.in_transaction()
    try:
        return verify_key(session, key)
    finally:
        if began:
            session.rollback()


async def authenticate(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <key>` (or basic auth with the key as user);
    found once a request (a `TransactionalRoute` finds it before anything else)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is not None:
        return found
    key = _key_from_header(request)
    if not key:
        raise Unauthorized("an API key is required: send `Authorization: Bearer <key>`")
    cache: KeyCache = request.app.state.key_cache
    principal = cache.get(key)
    if principal is None:
        principal = await run_db(_look_up, request.state.session, key)
        cache.put(key, principal)
    request.state.principal = principal
    return principal


async def authorize(request: Request, scopes: Iterable[str]) -> Principal:
    """The caller, if their key holds every one of `scopes`."""
    principal = await authenticate(request)
    for scope in scopes:
        if not principal.allows(scope):
            raise MissingScope(f"this call needs the scope {scope!r}", required_scope=scope)
    return principal


class Require:
    """A dependency that lets the call through only for a key holding `scope`, and gives the
    caller: `Depends(require("orders:write"))`. A `TransactionalRoute` checks it itself, before
    the request's body is read (kit.http); elsewhere FastAPI solves it."""

    __slots__ = ("scope",)

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:
        return await authorize(request, (self.scope,))


def require(scope: str) -> Require:
    return Require(scope)
