from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session

from naadloos.channels import service
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import CapabilityMatrix, ChannelCreate, ChannelOut, ChannelUpdate
from naadloos.kit.auth import require
from naadloos.kit.http import IDEMPOTENT, TransactionalRoute, get_session
from naadloos.kit.pagination import Page, PageParams, page_params
from naadloos.kit.problems import RESPONSES

router = APIRouter(
    prefix="/v1/channels", tags=["channels"], route_class=TransactionalRoute, responses=RESPONSES
)

READ = Depends(require("channels:read"))
WRITE = Depends(require("channels:write"))


@router.get("", dependencies=[READ])
def list_channels(
    kind: ChannelKind | None = None,
    active: bool | None = None,
    page: PageParams = Depends(page_params),
    session: Session = Depends(get_session),
) -> Page[ChannelOut]:
    """Channels ordered by code, a page at a time."""
    rows, next_cursor = service.list_channels(session, page, kind=kind, active=active)
    return Page[ChannelOut](
        items=[ChannelOut.model_validate(c) for c in rows], next_cursor=next_cursor
    )


@router.get("/matrix", dependencies=[READ])
def capability_matrix(
    include_inactive: bool = Query(False, description="Also show deactivated channels"),
    session: Session = Depends(get_session),
) -> CapabilityMatrix:
    """What a customer can do through which channel: one row a channel, one column a capability."""
    return service.capability_matrix(session, include_inactive=include_inactive)


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[WRITE, IDEMPOTENT])
def create_channel(
    data: ChannelCreate, response: Response, session: Session = Depends(get_session)
) -> ChannelOut:
    channel = service.create_channel(session, data)
    response.headers["Location"] = f"/v1/channels/{channel.code}"
    return ChannelOut.model_validate(channel)


@router.get("/{code}", dependencies=[READ])
def get_channel(code: str, session: Session = Depends(get_session)) -> ChannelOut:
    return ChannelOut.model_validate(service.get_channel(session, code))


@router.patch("/{code}", dependencies=[WRITE])
def update_channel(
    code: str, data: ChannelUpdate, session: Session = Depends(get_session)
) -> ChannelOut:
    """Rename, change capabilities, or deactivate (`active: false`) a channel."""
    return ChannelOut.model_validate(service.update_channel(session, code, data))
