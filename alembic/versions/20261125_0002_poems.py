"""poems and their ratings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import techtribe.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # New tables only: no ALTER of existing ones, so no batch mode is needed on SQLite.
    op.create_table(
        "poems",
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ratings_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ratings_sum", sa.Integer(), server_default="0", nullable=False),
        sa.Column("score_average", sa.Float(), server_default="0", nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "ratings_count >= 0 AND ratings_sum >= ratings_count "
            "AND ratings_sum <= 5 * ratings_count",
            name=op.f("ck_poems_aggregates"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_poems_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poems")),
    )
    op.create_index(
        "ix_poems_author_id_created_at", "poems", ["author_id", "created_at"], unique=False
    )
    op.create_index("ix_poems_created_at_id", "poems", ["created_at", "id"], unique=False)
    op.create_index("ix_poems_ratings_count_id", "poems", ["ratings_count", "id"], unique=False)
    op.create_index("ix_poems_score_average_id", "poems", ["score_average", "id"], unique=False)
    op.create_table(
        "poem_ratings",
        sa.Column("poem_id", sa.Uuid(), nullable=False),
        sa.Column("rater_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", techtribe.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_poem_ratings_score")),
        sa.ForeignKeyConstraint(
            ["poem_id"],
            ["poems.id"],
            name=op.f("fk_poem_ratings_poem_id_poems"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rater_id"],
            ["users.id"],
            name=op.f("fk_poem_ratings_rater_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poem_ratings")),
        sa.UniqueConstraint("poem_id", "rater_id", name=op.f("uq_poem_ratings_poem_id_rater_id")),
    )
    op.create_index(
        "ix_poem_ratings_poem_id_created_at_id",
        "poem_ratings",
        ["poem_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_poem_ratings_rater_id", "poem_ratings", ["rater_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_poem_ratings_rater_id", table_name="poem_ratings")
    op.drop_index("ix_poem_ratings_poem_id_created_at_id", table_name="poem_ratings")
    op.drop_table("poem_ratings")
    op.drop_index("ix_poems_score_average_id", table_name="poems")
    op.drop_index("ix_poems_ratings_count_id", table_name="poems")
    op.drop_index("ix_poems_created_at_id", table_name="poems")
    op.drop_index("ix_poems_author_id_created_at", table_name="poems")
    op.drop_table("poems")
