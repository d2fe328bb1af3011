"""purchase attempts: charges voided after a failed commit, so a retry charges anew

Revision ID: 0008_purchase_attempts
Revises: 0007
Create Date: 2026-12-04 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techtribe.db

revision: str = "0008_purchase_attempts"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "purchase_attempts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_purchase_attempts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_attempts")),
    )
    op.create_index(
        "ix_purchase_attempts_user_id_key", "purchase_attempts", ["user_id", "key"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_purchase_attempts_user_id_key", table_name="purchase_attempts")
    op.drop_table("purchase_attempts")
