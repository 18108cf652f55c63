from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from naadloos.customers.service.consent import ConsentChannel, ConsentStatus, Purpose

MessageType = Literal["identify", "track", "page", "screen", "alias"]


class TrackingMessage(BaseModel):
    """A message of the Segment spec. Unknown fields (integrations, writeKey, ...) are allowed
    and kept out of the way, as the spec asks of a receiver."""

    model_config = ConfigDict(extra="allow")

    type: MessageType
    messageId: str | None = Field(default=None, max_length=255)
    userId: str | None = Field(default=None, max_length=255)
    anonymousId: str | None = Field(default=None, max_length=255)
    previousId: str | None = Field(default=None, max_length=255)
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None

    @field_validator("userId", "anonymousId", "previousId", mode="before")
    @classmethod
    def _ids_as_text(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("properties", "traits", "context", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return {} if value is None else value

    @model_validator(mode="after")
    def _required_by_type(self) -> TrackingMessage:
        if self.type == "alias":
            if not self.previousId or not self.userId:
                raise ValueError("an alias needs both userId and previousId")
        elif not self.userId and not self.anonymousId:
            raise ValueError("a message needs a userId or an anonymousId")
        if self.type == "track" and not self.event:
            raise ValueError("a track message needs an event name")
        return self


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: list[dict[str, Any]] = Field(max_length=10_000)
    sentAt: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class RejectedMessage(BaseModel):
    index: int
    messageId: str | None
    code: str
    detail: str


class TrackingResult(BaseModel):
    success: bool = True
    accepted: int
    duplicates: int
    rejected: list[RejectedMessage]


class IdentifierOut(BaseModel):
    id: uuid.UUID
    type: str
    value: str
    shared: bool
    first_seen_at: datetime
    last_seen_at: datetime


class TimelineEntry(BaseModel):
    id: uuid.UUID
    type: str
    name: str | None
    channel: str | None
    timestamp: datetime
    properties: dict[str, Any]


class Profile(BaseModel):
    id: uuid.UUID
    traits: dict[str, Any]
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    channels: list[str]
    created_at: datetime


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ConsentChannel
    purpose: Purpose
    status: ConsentStatus
    source: str = Field(
        default="api", min_length=1, max_length=100, description="Where it was given: a channel"
    )


class ConsentOut(BaseModel):
    channel: str
    purpose: str
    status: str
    source: str
    recorded_at: datetime


class Consents(BaseModel):
    current: list[ConsentOut]
    history: list[ConsentOut]


class SplitResult(BaseModel):
    person_id: uuid.UUID
    split_off: list[uuid.UUID] = Field(
        description="Persons made from the parts no longer connected (empty: still one person)"
    )


class SuggestedPerson(BaseModel):
    id: uuid.UUID
    traits: dict[str, Any]


class SuggestionOut(BaseModel):
    id: uuid.UUID
    score: float = Field(description="Evidence for a match, in bits (log2 of m/u, summed)")
    status: str
    levels: dict[str, int | None] = Field(
        description="Per field: 0 exact, 1 close, 2 different, null missing"
    )
    persons: list[SuggestedPerson]


class Erased(BaseModel):
    erased: uuid.UUID
    merged: list[uuid.UUID]


class Customer360(BaseModel):
    """Everything about one person that a service agent or a store associate needs."""

    profile: Profile
    identifiers: list[IdentifierOut]
    consent: list[ConsentOut]
    timeline: list[TimelineEntry]
    resolved_from: uuid.UUID | None = Field(
        default=None, description="The id asked for, when it was merged into this person"
    )


class LinkOut(BaseModel):
    seq: int
    from_identifier: str
    to_identifier: str
    rule: str
    channel: str | None
    message_id: str | None
    confidence: float
    at: datetime


class Explanation(BaseModel):
    """Why these identifiers are one person: the links of the graph, with their evidence."""

    person_id: uuid.UUID
    identifiers: list[IdentifierOut]
    links: list[LinkOut]
    merged_from: list[uuid.UUID]
