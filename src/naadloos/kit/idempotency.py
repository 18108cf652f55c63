"""`Idempotency-Key` on creating POSTs: a retry with the same key and the same request gets the
first response back and creates nothing; the same key with a different request is refused.

The key is claimed inside the request's own transaction, so a failed request leaves no claim
(the client may retry it) and a concurrent duplicate waits for the first one's outcome: it then
either replays the committed response or, if the first rolled back, proceeds itself.
Only successful (2xx) responses are stored, for `idempotency_retention_hours`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from functools import lru_cache

from fastapi import Header, Request
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from starlette.responses import Response

from naadloos.kit import events
from naadloos.kit.auth import Principal, authenticate
from naadloos.kit.blocking import run_db
from naadloos.kit.db import insert_or_nothing, table_of
from naadloos.kit.errors import Conflict, IdempotencyKeyReused, ValidationFailed
from naadloos.kit.models import IdempotencyKey
from naadloos.kit.prepared import Prepared
from naadloos.kit.time import utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_RESPONSE_HEADERS = ("location",)


class IdempotentReplay(Exception):
    """Raised to short-circuit a request whose response is already known."""

    def __init__(self, status_code: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__("replay")
        self.status_code = status_code
        self.body = body
        self.headers = headers

    def response(self) -> Response:
        return Response(
            self.body,
            status_code=self.status_code,
            media_type="application/json",
            headers={**self.headers, REPLAYED_HEADER: "true"},
        )


KEYS = table_of(IdempotencyKey)


@lru_cache(maxsize=events.MOST_CARRIED + 1)
def _completion(carried: int) -> Prepared:
    """The UPDATE that stores the response, with `carried` of the transaction's pending events
    (`kit.events.take_pending`): the request's last statement before its commit."""
    statement = (
        update(KEYS)
        .where(KEYS.c.api_key_id == bindparam("k_api_key_id"), KEYS.c.key == bindparam("k_key"))
        .values(
            status_code=bindparam("r_status", type_=KEYS.c.status_code.type),
            response_body=bindparam("r_body", type_=KEYS.c.response_body.type),
            response_headers=bindparam("r_headers", type_=KEYS.c.response_headers.type),
        )
    )
    if carried:
        statement = statement.add_cte(events.outbox_cte(carried))
    return Prepared(statement)


@dataclass(frozen=True)
class Claim:
    api_key_id: uuid.UUID
    key: str

    def complete(self, session: Session, response: Response) -> None:
        """Store the response for replays, in the request's transaction. On PostgreSQL the
        statement also writes the request's events (a round trip of their own otherwise)."""
        headers = {
            name: response.headers[name]
            for name in REPLAYED_RESPONSE_HEADERS
            if name in response.headers
        }
        pending = events.take_pending(session)
        _completion(events.carried(pending)).run(
            session,
            {
                "k_api_key_id": self.api_key_id,
                "k_key": self.key,
                "r_status": response.status_code,
                "r_body": bytes(response.body),
                "r_headers": headers,
                **pending,
            },
        )


def _request_hash(request: Request, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.digest()


def _check_existing(existing: IdempotencyKey, request_hash: bytes) -> None:
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused(
            f"the {HEADER} was used before for a different request; use a new key",
            field=HEADER,
        )
    if existing.status_code is None or existing.response_body is None:
        raise Conflict(f"a request with this {HEADER} is still in progress", field=HEADER)
    raise IdempotentReplay(
        existing.status_code, existing.response_body, dict(existing.response_headers or {})
    )


def _claim(
    session: Session, principal: Principal, key: str, *, method: str, path: str, request_hash: bytes
) -> Claim:
    values = {
        "api_key_id": principal.key_id,
        "key": key,
        "method": method,
        "path": path,
        "request_hash": request_hash,
        "created_at": utcnow(),
    }
    # On PostgreSQL this waits for a concurrent holder of the same key to finish.
    if insert_or_nothing(session, IdempotencyKey, values, IdempotencyKey.key) is None:
        existing = session.get(IdempotencyKey, (principal.key_id, key))
        if existing is None:  # pragma: no cover - purged between the two statements
            raise Conflict(f"a request with this {HEADER} is in progress; retry", field=HEADER)
        _check_existing(existing, request_hash)
    return Claim(principal.key_id, key)


async def idempotency(
    request: Request,
    idempotency_key: str | None = Header(
        default=None,
        alias=HEADER,
        description="A unique key per intended creation; a retry with it returns the first result.",
    ),
) -> None:
    """Dependency for creating POSTs (see `kit.http.creating`)."""
    if idempotency_key is None:
        return
    principal = await authenticate(request)
    key = idempotency_key.strip()
    if not 1 <= len(key) <= 255:
        raise ValidationFailed.field(HEADER, "must be 1 to 255 characters")
    body = await request.body()
    claim = await run_db(
        _claim,
        request.state.session,
        principal,
        key,
        method=request.method,
        path=request.url.path,
        request_hash=_request_hash(request, body),
    )
    request.state.idempotency_claim = claim
