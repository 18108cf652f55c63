"""foundation: outbox, api keys, idempotency, channels (with the default channels)

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import naadloos.kit.db
from naadloos.kit.ids import new_id
from naadloos.kit.time import utcnow

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("created_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("code", name=op.f("uq_channels_code")),
    )
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channels_kind"), ["kind"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("created_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("api_key_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "outbox_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_pending", ["delivered_at", "available_at"], unique=False
        )

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("processed_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )

    _seed_default_channels()


# The channels a fresh database starts with; the retailer changes them at will. Frozen here
# as they were when this migration was written.
DEFAULT_CHANNELS = [
    ("web", "Webshop", "web", ["browse", "buy", "pay", "return", "support"]),
    ("app", "App", "app", ["browse", "buy", "pay", "return", "support", "notify"]),
    ("email", "Email", "email", ["support", "notify"]),
    ("sms", "SMS", "sms", ["support", "notify"]),
    ("whatsapp", "WhatsApp", "chat", ["support", "notify"]),
    ("phone", "Phone", "phone", ["buy", "support", "notify"]),
    ("chat", "Web chat", "chat", ["support"]),
]


def _seed_default_channels() -> None:
    channels = sa.table(
        "channels",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("capabilities", sa.JSON()),
        sa.column("active", sa.Boolean()),
        sa.column("created_at", naadloos.kit.db.UTCDateTime()),
        sa.column("updated_at", naadloos.kit.db.UTCDateTime()),
    )
    now = utcnow()
    op.bulk_insert(
        channels,
        [
            {
                "id": new_id(),
                "code": code,
                "name": name,
                "kind": kind,
                "capabilities": capabilities,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for code, name, kind, capabilities in DEFAULT_CHANNELS
        ],
    )


def downgrade() -> None:
    op.drop_table("processed_events")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_pending")

    op.drop_table("outbox_events")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channels_kind"))

    op.drop_table("channels")
    op.drop_table("api_keys")
