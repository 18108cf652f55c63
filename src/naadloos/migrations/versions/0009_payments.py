"""payments: online payments of orders, their history, and the order's `pay_by`

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import naadloos.kit.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("method", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("captured", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("action", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_order", ["order_id"], unique=False)
        batch_op.create_index(
            "uq_payments_order_key",
            ["order_id", "idempotency_key"],
            unique=True,
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_payments_provider_reference",
            ["provider", "reference"],
            unique=True,
            sqlite_where=sa.text("reference IS NOT NULL"),
            postgresql_where=sa.text("reference IS NOT NULL"),
        )

    op.create_table(
        "payment_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("provider_event_id", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_events_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index("ix_payment_events_payment", ["payment_id"], unique=False)
        batch_op.create_index(
            "uq_payment_events_provider_event",
            ["provider", "provider_event_id"],
            unique=True,
            sqlite_where=sa.text("provider_event_id IS NOT NULL"),
            postgresql_where=sa.text("provider_event_id IS NOT NULL"),
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pay_by", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_orders_status_pay_by", ["status", "pay_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_pay_by")
        batch_op.drop_column("pay_by")

    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payment_events_provider_event",
            sqlite_where=sa.text("provider_event_id IS NOT NULL"),
            postgresql_where=sa.text("provider_event_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_payment_events_payment")

    op.drop_table("payment_events")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payments_provider_reference",
            sqlite_where=sa.text("reference IS NOT NULL"),
            postgresql_where=sa.text("reference IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_payments_order_key",
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )
        batch_op.drop_index("ix_payments_order")

    op.drop_table("payments")
