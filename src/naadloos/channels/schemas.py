from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from naadloos.channels.kinds import Capability, ChannelKind

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]*(:[a-z0-9][a-z0-9-]*)?$"

ChannelCode = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=CODE_PATTERN)]
ChannelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ChannelCode = Field(
        description="Stable identifier, lower case: `web`, `app`, `store:amsterdam-centrum`",
        examples=["store:utrecht"],
    )
    name: ChannelName = Field(examples=["Store Utrecht"])
    kind: ChannelKind
    capabilities: list[Capability] | None = Field(
        default=None, description="What customers can do here; defaults to the kind's defaults"
    )
    active: bool = True


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ChannelName | None = None
    capabilities: list[Capability] | None = None
    active: bool | None = None


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    kind: ChannelKind
    capabilities: list[Capability]
    active: bool
    created_at: datetime
    updated_at: datetime


class MatrixRow(BaseModel):
    code: str
    name: str
    kind: ChannelKind
    active: bool
    capabilities: dict[Capability, bool]


class CapabilityMatrix(BaseModel):
    """Which capability is offered through which channel, both ways round."""

    capabilities: list[Capability]
    channels: list[MatrixRow]
    by_capability: dict[Capability, list[str]]
