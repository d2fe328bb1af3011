"""sandbox ledger: the built-in sandbox gateway's charges and refunds, shared by every process

Revision ID: 0011_sandbox_ledger
Revises: 0010_catalog_search
Create Date: 2026-12-05 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techtribe.db

revision: str = "0011_sandbox_ledger"
down_revision: str | None = "0010_catalog_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_charges",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("card_brand", sa.String(length=20), nullable=False),
        sa.Column("card_last4", sa.String(length=4), nullable=False),
        sa.Column("card_exp_month", sa.Integer(), nullable=False),
        sa.Column("card_exp_year", sa.Integer(), nullable=False),
        sa.Column("decline_code", sa.String(length=40), nullable=True),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_charges")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sandbox_charges_idempotency_key")),
    )
    op.create_table(
        "sandbox_refunds",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("charge_id", sa.String(length=100), nullable=False),
        sa.Column("requested_cents", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_id"],
            ["sandbox_charges.id"],
            name=op.f("fk_sandbox_refunds_charge_id_sandbox_charges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sandbox_refunds_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("sandbox_refunds")
    op.drop_table("sandbox_charges")
