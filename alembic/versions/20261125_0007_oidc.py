"""sign in with OpenID Connect: login state, one-time login codes, provider identities

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 05:53:53.871774
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techtribe.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_states",
        sa.Column("state_digest", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("return_to", sa.String(length=2048), nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", techtribe.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_states")),
        sa.UniqueConstraint("state_digest", name=op.f("uq_oidc_states_state_digest")),
    )
    op.create_index("ix_oidc_states_expires_at", "oidc_states", ["expires_at"], unique=False)

    op.create_table(
        "oidc_identities",
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oidc_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_identities")),
        sa.UniqueConstraint(
            "provider", "subject", name=op.f("uq_oidc_identities_provider_subject")
        ),
    )
    op.create_index("ix_oidc_identities_user_id", "oidc_identities", ["user_id"], unique=False)

    op.create_table(
        "oidc_login_codes",
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", techtribe.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oidc_login_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_login_codes")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_oidc_login_codes_code_digest")),
    )
    op.create_index(
        "ix_oidc_login_codes_expires_at", "oidc_login_codes", ["expires_at"], unique=False
    )
    op.create_index("ix_oidc_login_codes_user_id", "oidc_login_codes", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_oidc_login_codes_user_id", table_name="oidc_login_codes")
    op.drop_index("ix_oidc_login_codes_expires_at", table_name="oidc_login_codes")
    op.drop_table("oidc_login_codes")
    op.drop_index("ix_oidc_identities_user_id", table_name="oidc_identities")
    op.drop_table("oidc_identities")
    op.drop_index("ix_oidc_states_expires_at", table_name="oidc_states")
    op.drop_table("oidc_states")
