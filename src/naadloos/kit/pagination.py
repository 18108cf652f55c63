"""Cursor pagination: `?limit=&cursor=`, answered with `{"items": [...], "next_cursor": ...}`.

The cursor is an opaque token holding the sort key of the last item returned, so a page is
stable while rows are added and costs an index seek, not an OFFSET scan.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, Uuid
from sqlalchemy.orm import InstrumentedAttribute, Session

from naadloos.kit.errors import ValidationFailed

T = TypeVar("T")
ItemT = TypeVar("ItemT")
MAX_LIMIT = 500


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Items per page"),
    cursor: str | None = Query(None, description="`next_cursor` of the previous page"),
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(value: Any) -> str:
    raw = json.dumps([value], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(value, list) or len(value) != 1:
            raise ValueError("not a cursor")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.field("cursor", "not a cursor this API issued") from exc
    return value[0]


def paginate(
    session: Session,
    stmt: Select[T],
    key: InstrumentedAttribute[Any],
    params: PageParams,
) -> tuple[Sequence[T], str | None]:
    """Rows of `stmt` ordered by the unique column `key`, after the cursor, plus the next cursor."""
    if params.cursor is not None:
        after = decode_cursor(params.cursor)
        if isinstance(key.type, Uuid):
            try:
                after = uuid.UUID(str(after))
            except ValueError as exc:
                raise ValidationFailed.field("cursor", "not a cursor this API issued") from exc
        stmt = stmt.where(key > after)
    rows = list(session.scalars(stmt.order_by(key).limit(params.limit + 1)))
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = getattr(rows[-1], key.key)
    return rows, encode_cursor(str(last) if isinstance(last, uuid.UUID) else last)
