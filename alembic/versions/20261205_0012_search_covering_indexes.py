"""search covering indexes: the `newest` indexes carry each course's words and tags

Revision ID: 0012_search_covering_indexes
Revises: 0011_sandbox_ledger
Create Date: 2026-12-05 05:30:00

A search page (`q`, `tag`) newest first walked `(created_at, id)` or `(level, created_at,
id)` and fetched each course row to check its words and tags: about one heap page per
course it passed over (1,776 buffers for 21 rows on the bench catalog). With the two columns
in the index (`INCLUDE`), the walk checks them on the index entries it reads in order (60
buffers), and only the page's 21 rows are fetched.

PostgreSQL only (SQLite has no INCLUDE). Written for a large, live table: each index is
built again under a new name with `CREATE INDEX CONCURRENTLY`, the old one dropped
concurrently, and the new one renamed (a brief lock); re-running it after a failure is safe.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0012_search_covering_indexes"
down_revision: str | None = "0011_sandbox_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTED = "published AND NOT archived"
# name: key columns
NEWEST = {
    "ix_courses_listed_created_at_id": "created_at, id",
    "ix_courses_listed_level_created_at_id": "level, created_at, id",
}


def _covering(name: str) -> bool | None:
    """Whether valid index `name` has columns beyond its key (an INCLUDE); None: no such
    valid index."""
    row = (
        op.get_bind()
        .execute(
            text(
                "SELECT indnatts > indnkeyatts FROM pg_index "
                "WHERE indexrelid = to_regclass(:name) AND indisvalid"
            ),
            {"name": name},
        )
        .first()
    )
    return None if row is None else bool(row[0])


def _rebuild(name: str, keys: str, include: str) -> None:
    """Index `name` on `keys` (+ `include`) over listed courses, built beside the old one."""
    building = f"{name}_next"
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {building}")  # a failed build's leftover
    op.execute(f"CREATE INDEX CONCURRENTLY {building} ON courses ({keys}){include} WHERE {LISTED}")
    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(f"ALTER INDEX {building} RENAME TO {name}")


def upgrade() -> None:
    _make_covering(True)


def downgrade() -> None:
    _make_covering(False)


def _make_covering(covering: bool) -> None:
    """Rebuild each `newest` index that is missing or not yet as asked (with or without the
    INCLUDE)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    include = " INCLUDE (search_vector, tag_names)" if covering else ""
    with op.get_context().autocommit_block():
        for name, keys in NEWEST.items():
            if _covering(name) is not covering:
                _rebuild(name, keys, include)
