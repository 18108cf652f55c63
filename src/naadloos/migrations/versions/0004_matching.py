"""customers: match keys and suggestions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import naadloos.kit.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_keys",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_match_keys_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("key", "person_id", name=op.f("pk_match_keys")),
    )
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_keys_person_id"), ["person_id"], unique=False)

    op.create_table(
        "match_suggestions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_a", sa.Uuid(), nullable=False),
        sa.Column("person_b", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", naadloos.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_a"], ["persons.id"], name=op.f("fk_match_suggestions_person_a_persons")
        ),
        sa.ForeignKeyConstraint(
            ["person_b"], ["persons.id"], name=op.f("fk_match_suggestions_person_b_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_suggestions")),
        sa.UniqueConstraint(
            "person_a", "person_b", name=op.f("uq_match_suggestions_person_a_person_b")
        ),
    )
    with op.batch_alter_table("match_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_suggestions_person_a"), ["person_a"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_match_suggestions_person_b"), ["person_b"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_match_suggestions_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_suggestions_status"))
        batch_op.drop_index(batch_op.f("ix_match_suggestions_person_b"))
        batch_op.drop_index(batch_op.f("ix_match_suggestions_person_a"))

    op.drop_table("match_suggestions")
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_keys_person_id"))

    op.drop_table("match_keys")
