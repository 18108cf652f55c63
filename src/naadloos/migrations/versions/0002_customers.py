"""customers: persons, identifiers, identity links, events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import naadloos.kit.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_seen_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("trait_times", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["persons.id"], name=op.f("fk_persons_merged_into_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_persons_merged_into_id"), ["merged_into_id"], unique=False
        )

    op.create_table(
        "identifiers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("shared_reason", sa.String(length=200), nullable=True),
        sa.Column("first_seen_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_identifiers_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifiers")),
        sa.UniqueConstraint("type", "value", name=op.f("uq_identifiers_type_value")),
    )
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identifiers_person_id"), ["person_id"], unique=False)

    op.create_table(
        "customer_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("identifier_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("timestamp", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["identifiers.id"],
            name=op.f("fk_customer_events_identifier_id_identifiers"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_customer_events_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_events")),
        sa.UniqueConstraint("message_id", name=op.f("uq_customer_events_message_id")),
    )
    with op.batch_alter_table("customer_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_events_identifier_id"), ["identifier_id"], unique=False
        )
        batch_op.create_index(
            "ix_customer_events_person_timeline", ["person_id", "timestamp"], unique=False
        )

    op.create_table(
        "identity_links",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("from_identifier_id", sa.Uuid(), nullable=False),
        sa.Column("to_identifier_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=50), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_identifier_id"],
            ["identifiers.id"],
            name=op.f("fk_identity_links_from_identifier_id_identifiers"),
        ),
        sa.ForeignKeyConstraint(
            ["to_identifier_id"],
            ["identifiers.id"],
            name=op.f("fk_identity_links_to_identifier_id_identifiers"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_identity_links")),
    )
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_links_from_identifier_id"), ["from_identifier_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_links_to_identifier_id"), ["to_identifier_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_links_to_identifier_id"))
        batch_op.drop_index(batch_op.f("ix_identity_links_from_identifier_id"))

    op.drop_table("identity_links")
    with op.batch_alter_table("customer_events", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_events_person_timeline")
        batch_op.drop_index(batch_op.f("ix_customer_events_identifier_id"))

    op.drop_table("customer_events")
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identifiers_person_id"))

    op.drop_table("identifiers")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_merged_into_id"))

    op.drop_table("persons")
