"""Configuration, read from `NAADLOOS_*` environment variables (and a `.env` file if present)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

SUPPORTED_DATABASES = ("sqlite", "postgresql")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NAADLOOS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./naadloos.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # PostgreSQL: a pooled connection idle this long is tested before use (0: always).
    database_ping_after_idle_seconds: float = Field(default=10.0, ge=0)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # SQLite: checkpoint the write-ahead log this often on a thread of its own (0: inside
    # the commit that fills it, as SQLite does by itself). Checkouts write 30,000 pages a
    # second: once a second let the log reach the backstop (kit.checkpoints), and the commit
    # that crossed it checkpointed inline, 20-30 ms (ADR 0016).
    sqlite_checkpoint_seconds: float = Field(default=0.2, ge=0)

    nats_url: str | None = None
    nats_stream: str = "NAADLOOS"
    nats_subject_prefix: str = "naadloos.events"
    nats_connect_timeout_seconds: float = Field(default=3.0, gt=0)

    # The API processes' event loop: `auto` is the standard library's on SQLite (it serves
    # requests in the order they came; uvloop's batches made every eighth wait twice as
    # long, ADR 0016) and uvloop on PostgreSQL (cheaper for requests that await the server).
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"

    dispatch_events: bool = True  # deliver outbox events inside API processes
    dispatcher_poll_seconds: float = Field(default=1.0, gt=0)
    dispatcher_linger_seconds: float = Field(default=0.01, ge=0)
    dispatcher_batch_size: int = Field(default=200, ge=1)
    dispatcher_lease_seconds: float = Field(default=30.0, gt=0)
    outbox_max_attempts: int = Field(default=12, ge=1)
    outbox_retention_days: int = Field(default=7, ge=0)
    reservation_sweep_seconds: float = Field(default=5.0, gt=0)
    # How soon a scheduled price reaches search's kept price (searches are right meanwhile).
    search_price_refresh_seconds: float = Field(default=60.0, gt=0)
    # Orders: how long adding to a cart holds the units; how long a ready click & collect
    # order waits at the desk before it is cancelled and its units go back on sale.
    cart_hold_seconds: int = Field(default=1800, ge=60, le=7 * 24 * 3600)
    collect_within_hours: int = Field(default=72, ge=1, le=60 * 24)
    # Reserve online, pay in store: how long the units wait for the customer at the till.
    reserve_within_hours: int = Field(default=24, ge=1, le=60 * 24)
    # Which locations ship an order: a `module:Class` with `route` (orders.service.routing).
    order_router: str = "naadloos.orders.service.routing:StockPriorityDistance"
    uncollected_sweep_seconds: float = Field(default=60.0, gt=0)
    # Online payments: the providers (`stripe`, or `name=module:Class`; comma-separated) and
    # how long an order paid online keeps its units waiting for the authorisation.
    payment_providers: str = ""
    pay_within_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    idempotency_retention_hours: int = Field(default=24, ge=1)

    # Matching persons who share no identifier: weights in bits of evidence (ADR 0006).
    match_auto_merge_weight: float = 18.0
    match_review_weight: float = 9.0

    api_key_cache_seconds: float = Field(default=10.0, ge=0)

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in SUPPORTED_DATABASES:
            raise ValueError(
                f"unsupported database {scheme!r}: use sqlite:///path or postgresql://user@host/db"
            )
        if scheme == "sqlite" and (value.rstrip("/") == "sqlite:" or ":memory:" in value):
            raise ValueError(
                "an in-memory SQLite database is not shared between connections: use a file, "
                "e.g. sqlite:///./naadloos.db"
            )
        return value

    @field_validator("nats_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the driver SQLAlchemy should use (psycopg 3 for PostgreSQL)."""
        url = self.database_url
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain) :]
        return url

    @property
    def database_url_for_display(self) -> str:
        """The database URL with any password masked, for messages and logs."""
        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.database_url.split(":", 1)[0].split("+", 1)[0]


@lru_cache
def get_settings() -> Settings:
    return Settings()
