"""`GET /v1/me`: which key is calling, with which scopes, through which channel. A till or an
integration checks its configuration with it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from naadloos.kit.auth import Principal, authenticate
from naadloos.kit.http import TransactionalRoute
from naadloos.kit.problems import RESPONSES

router = APIRouter(prefix="/v1", tags=["keys"], route_class=TransactionalRoute, responses=RESPONSES)


class Me(BaseModel):
    key_id: uuid.UUID
    name: str
    scopes: list[str]
    channel: str | None


@router.get("/me")
async def me(principal: Principal = Depends(authenticate)) -> Me:
    return Me(
        key_id=principal.key_id,
        name=principal.name,
        scopes=sorted(principal.scopes),
        channel=principal.channel,
    )
