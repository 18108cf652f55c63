"""The tracking API (Segment spec: `/v1/identify`, `/track`, `/page`, `/screen`, `/alias`,
`/batch`; the write key as basic-auth user) and the customers API (360, timeline, explain)."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from naadloos.customers.models import MatchSuggestion, Person
from naadloos.customers.schemas import (
    BatchIn,
    ConsentIn,
    Consents,
    Customer360,
    Erased,
    Explanation,
    SplitResult,
    SuggestedPerson,
    SuggestionOut,
    TimelineEntry,
    TrackingResult,
)
from naadloos.customers.service import consent, intake, match, privacy, profiles, split, tracking
from naadloos.kit.auth import Principal, require
from naadloos.kit.blocking import run_db
from naadloos.kit.errors import BadRequest, MalformedJson, NaadloosError, ValidationFailed
from naadloos.kit.http import IDEMPOTENT, TransactionalRoute, get_session
from naadloos.kit.pagination import Page, decode_cursor, encode_cursor
from naadloos.kit.problems import RESPONSES
from naadloos.kit.time import utcnow

tracking_router = APIRouter(
    prefix="/v1", tags=["tracking"], route_class=TransactionalRoute, responses=RESPONSES
)
identity_router = APIRouter(
    prefix="/v1/identity", tags=["customers"], route_class=TransactionalRoute, responses=RESPONSES
)
router = APIRouter(
    prefix="/v1/customers", tags=["customers"], route_class=TransactionalRoute, responses=RESPONSES
)

TRACK = Depends(require("track"))
READ = Depends(require("customers:read"))
WRITE = Depends(require("customers:write"))


class TooLarge(BadRequest):
    code = "payload_too_large"
    title = "Payload too large"


class MessageRejected(NaadloosError):
    status = 422
    title = "Message rejected"

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.code = code  # type: ignore[misc]


async def _json_body(request: Request, limit: int) -> tuple[Any, int]:
    """The body as JSON and its size, gunzipped if need be, refused beyond `limit` bytes."""
    raw = await request.body()
    if len(raw) > limit:
        raise TooLarge(f"the body is {len(raw)} bytes; at most {limit} are accepted")
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, limit + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise BadRequest(f"the gzip body is corrupt: {exc}") from exc
        if len(raw) > limit:
            raise TooLarge(f"the body unpacks to more than {limit} bytes")
    elif encoding not in ("", "identity"):
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    try:
        return json.loads(raw), len(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"the request body is not valid JSON: {exc}") from exc


def _id_cursor(cursor: str | None) -> uuid.UUID | None:
    """The id a page ends at, from the cursor of `next_cursor`."""
    if cursor is None:
        return None
    try:
        return uuid.UUID(str(decode_cursor(cursor)))
    except ValueError as exc:
        raise ValidationFailed.field("cursor", "not a cursor this API issued") from exc


def _thresholds(request: Request) -> match.Thresholds:
    settings = request.app.state.runtime.settings
    return match.Thresholds(settings.match_auto_merge_weight, settings.match_review_weight)


def _one(result: TrackingResult) -> TrackingResult:
    if result.rejected:
        rejected = result.rejected[0]
        raise MessageRejected(rejected.code, rejected.detail)
    return result


def _single(kind: str) -> Any:
    async def endpoint(
        request: Request,
        principal: Principal = TRACK,
        session: Session = Depends(get_session),
    ) -> TrackingResult:
        body, size = await _json_body(request, intake.MAX_MESSAGE_BYTES)
        if not isinstance(body, dict):
            raise ValidationFailed.field("body", "a message is a JSON object")
        result = await run_db(
            tracking.ingest,
            session,
            [body],
            received_at=utcnow(),
            key_channel=principal.channel,
            default_type=kind,
            body_bytes=size,
            thresholds=_thresholds(request),
        )
        return _one(result)

    endpoint.__name__ = kind
    endpoint.__doc__ = f"Record a `{kind}` message (Segment spec). Deduplicated by `messageId`."
    return endpoint


for _kind in ("identify", "track", "page", "screen", "alias"):
    tracking_router.post(f"/{_kind}", response_model=TrackingResult)(_single(_kind))


@tracking_router.post("/batch")
async def batch(
    request: Request,
    principal: Principal = TRACK,
    session: Session = Depends(get_session),
) -> TrackingResult:
    """Up to 500 KB of messages. Good messages are kept; bad ones are listed in `rejected` with
    their index. A batch whose every message is bad is refused as a whole (422)."""
    body, size = await _json_body(request, intake.MAX_BATCH_BYTES)
    try:
        envelope = BatchIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationFailed.field(
            "body." + ".".join(str(p) for p in first["loc"]), first["msg"]
        ) from exc
    result = await run_db(
        tracking.ingest,
        session,
        envelope.batch,
        received_at=utcnow(),
        key_channel=principal.channel,
        batch_sent_at=envelope.sentAt,
        body_bytes=size,
        thresholds=_thresholds(request),
    )
    if result.rejected and not result.accepted and not result.duplicates:
        raise MessageRejected(
            "batch_rejected",
            f"all {len(result.rejected)} messages were rejected",
            rejected=[r.model_dump() for r in result.rejected],
        )
    return result


@router.get("", dependencies=[READ])
def find_customer(
    identifier: str = Query(..., description="type:value, e.g. `email:jan@example.nl`"),
    session: Session = Depends(get_session),
) -> Customer360:
    """Find a customer by any identifier (the service desk and the till use this)."""
    person = profiles.find_by_identifier(session, identifier)
    return profiles.customer_360(session, person.id)


@router.get("/{person_id}/360", dependencies=[READ])
def customer_360(person_id: uuid.UUID, session: Session = Depends(get_session)) -> Customer360:
    """Profile, identifiers and the latest timeline of one person, across every channel."""
    return profiles.customer_360(session, person_id)


@router.get("/{person_id}/explain", dependencies=[READ])
def explain(person_id: uuid.UUID, session: Session = Depends(get_session)) -> Explanation:
    """Why these identifiers are one person: each link of the graph with its evidence."""
    return profiles.explain(session, person_id)


@router.get("/{person_id}/timeline", dependencies=[READ])
def timeline(
    person_id: uuid.UUID,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None),
    session: Session = Depends(get_session),
) -> Page[TimelineEntry]:
    """Everything the person did, newest first, in every channel."""
    person = profiles.get_person(session, person_id)
    before = _id_cursor(cursor)
    events = profiles.timeline(session, person.id, limit=limit + 1, before=before)
    page = [profiles.timeline_entry(e) for e in events[:limit]]
    next_cursor = encode_cursor(str(page[-1].id)) if len(events) > limit else None
    return Page[TimelineEntry](items=page, next_cursor=next_cursor)


@router.get("/{person_id}/consents", dependencies=[READ])
def consents(person_id: uuid.UUID, session: Session = Depends(get_session)) -> Consents:
    """Consent per channel and purpose now, and every decision before, newest first."""
    person = profiles.get_person(session, person_id)
    return Consents(
        current=[profiles.consent_out(c) for c in consent.current(session, person.id).values()],
        history=[profiles.consent_out(c) for c in consent.history(session, person.id)],
    )


@router.post("/{person_id}/consents", status_code=201, dependencies=[WRITE, IDEMPOTENT])
def record_consent(
    person_id: uuid.UUID,
    data: ConsentIn,
    principal: Principal = WRITE,
    session: Session = Depends(get_session),
) -> Consents:
    """Record a consent decision (granted, denied, withdrawn) for a channel and purpose."""
    person = profiles.get_person(session, person_id)
    consent.record(
        session,
        person.id,
        channel=data.channel,
        purpose=data.purpose,
        status=data.status,
        source=principal.channel or data.source,
        at=utcnow(),
    )
    return consents(person.id, session)


@router.get("/{person_id}/export", dependencies=[WRITE])
def export(person_id: uuid.UUID, session: Session = Depends(get_session)) -> dict[str, Any]:
    """Everything held about the person (GDPR access and portability), as JSON."""
    return privacy.export(session, person_id)


@router.delete("/{person_id}", dependencies=[WRITE])
def erase(person_id: uuid.UUID, session: Session = Depends(get_session)) -> Erased:
    """Erase the person (GDPR): every identifier, event, consent and trait, and the profiles
    merged into it. Replayed messages of theirs are refused from then on."""
    erased, merged = privacy.erase(session, person_id)
    return Erased(erased=erased, merged=merged)


@identity_router.delete("/links/{seq}", dependencies=[WRITE])
def remove_link(
    seq: int,
    reason: str = Query(..., min_length=3, max_length=200, description="Why, for the record"),
    session: Session = Depends(get_session),
) -> SplitResult:
    """Unmerge: remove a link (see `/explain`). If the person's identifiers fall apart without
    it, each part that lost its way becomes a person of its own, with its own events, consents
    and traits."""
    person, split_off = split.remove_link(session, seq, reason)
    return SplitResult(person_id=person, split_off=split_off)


def _suggestion_out(session: Session, suggestion: MatchSuggestion) -> SuggestionOut:
    people = {
        p.id: p
        for p in session.scalars(
            select(Person).where(Person.id.in_([suggestion.person_a, suggestion.person_b]))
        )
    }
    return SuggestionOut(
        id=suggestion.id,
        score=suggestion.score,
        status=suggestion.status,
        levels=suggestion.levels,
        persons=[
            SuggestedPerson(id=pid, traits=people[pid].traits if pid in people else {})
            for pid in (suggestion.person_a, suggestion.person_b)
        ],
    )


@identity_router.get("/suggestions", dependencies=[READ])
def suggestions(
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None),
    session: Session = Depends(get_session),
) -> Page[SuggestionOut]:
    """Pairs of persons who may be one person, for review: accept merges them, reject keeps
    them apart for good."""
    after = _id_cursor(cursor)
    rows = match.pending(session, limit + 1, after)
    page = [_suggestion_out(session, s) for s in rows[:limit]]
    next_cursor = encode_cursor(str(page[-1].id)) if len(rows) > limit else None
    return Page[SuggestionOut](items=page, next_cursor=next_cursor)


@identity_router.post("/suggestions/{suggestion_id}/{decision}")
def decide_suggestion(
    suggestion_id: uuid.UUID,
    decision: Literal["accept", "reject"],
    principal: Principal = WRITE,
    session: Session = Depends(get_session),
) -> SuggestionOut:
    """Accept (merge the two persons) or reject (never suggest this pair again)."""
    suggestion = match.decide(
        session, suggestion_id, accept=decision == "accept", by=principal.name, at=utcnow()
    )
    return _suggestion_out(session, suggestion)
