"""catalog search: a stored search document and tag list per course, and the indexes they need

Revision ID: 0010_catalog_search
Revises: 0009_email_normal_form
Create Date: 2026-12-04 23:40:00

Written for a large, live `courses` table: nothing here holds a long exclusive lock.
The columns are added without a default (a catalog change only), triggers keep new and
changed rows right from that moment, existing rows are filled in batches of their own
transactions, and the indexes are built with `CREATE INDEX CONCURRENTLY` (outside a
transaction, so this revision commits as it goes: re-running it after a failure is safe).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_catalog_search"
down_revision: str | None = "0009_email_normal_form"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5_000
LISTED = sa.text("published AND NOT archived")

# PostgreSQL: one function per value, used by both the triggers and the backfill.
PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION course_search_vector(title text, description text)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT to_tsvector('english'::regconfig, title || ' ' || description) $$;

CREATE OR REPLACE FUNCTION course_tag_names(course uuid)
RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT array_agg(tags.name ORDER BY tags.name)
      FROM course_tags JOIN tags ON tags.id = course_tags.tag_id
      WHERE course_tags.course_id = course $$;

CREATE OR REPLACE FUNCTION courses_set_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := course_search_vector(NEW.title, NEW.description);
    RETURN NEW;
END $$;

-- Statement triggers with transition tables: a COPY or a multi-row INSERT of tags
-- updates each course once, not once per tag.
CREATE OR REPLACE FUNCTION course_tags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE courses SET tag_names = course_tag_names(id)
        WHERE id IN (SELECT course_id FROM added);
    ELSE
        UPDATE courses SET tag_names = course_tag_names(id)
        WHERE id IN (SELECT course_id FROM removed);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tags_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses SET tag_names = course_tag_names(id)
    WHERE id IN (SELECT course_id FROM course_tags WHERE tag_id = NEW.id);
    RETURN NULL;
END $$;
"""
PG_TRIGGERS = """
CREATE TRIGGER courses_search_vector BEFORE INSERT OR UPDATE OF title, description
ON courses FOR EACH ROW EXECUTE FUNCTION courses_set_search_vector();

CREATE TRIGGER course_tags_added AFTER INSERT ON course_tags
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION course_tags_changed();

CREATE TRIGGER course_tags_removed AFTER DELETE ON course_tags
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION course_tags_changed();

CREATE TRIGGER tags_renamed AFTER UPDATE OF name ON tags
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION tags_renamed();
"""
PG_DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS tags_renamed ON tags;

DROP TRIGGER IF EXISTS course_tags_removed ON course_tags;

DROP TRIGGER IF EXISTS course_tags_added ON course_tags;

DROP TRIGGER IF EXISTS courses_search_vector ON courses;
"""
PG_DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS tags_renamed();

DROP FUNCTION IF EXISTS course_tags_changed();

DROP FUNCTION IF EXISTS courses_set_search_vector();

DROP FUNCTION IF EXISTS course_tag_names(uuid);

DROP FUNCTION IF EXISTS course_search_vector(text, text);
"""
PG_BACKFILL = sa.text(
    """
    WITH batch AS (SELECT id FROM courses WHERE id > :after ORDER BY id LIMIT :size)
    UPDATE courses
    SET search_vector = course_search_vector(title, description),
        tag_names = course_tag_names(courses.id)
    FROM batch WHERE courses.id = batch.id
    RETURNING courses.id
    """
)

# SQLite (embedded, small): the tag list as JSON text, kept by row triggers; no document
# (search there is LIKE).
SQLITE_TAGS_OF = """(SELECT json_group_array(name) FROM (
    SELECT tags.name FROM course_tags JOIN tags ON tags.id = course_tags.tag_id
    WHERE course_tags.course_id = {course} ORDER BY tags.name))"""
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER course_tags_added AFTER INSERT ON course_tags BEGIN
    UPDATE courses SET tag_names = {SQLITE_TAGS_OF.format(course="NEW.course_id")}
    WHERE id = NEW.course_id; END""",  # noqa: S608 (constants only)
    f"""CREATE TRIGGER course_tags_removed AFTER DELETE ON course_tags BEGIN
    UPDATE courses SET tag_names = {SQLITE_TAGS_OF.format(course="OLD.course_id")}
    WHERE id = OLD.course_id; END""",  # noqa: S608 (constants only)
    f"""CREATE TRIGGER tags_renamed AFTER UPDATE OF name ON tags BEGIN
    UPDATE courses SET tag_names = {SQLITE_TAGS_OF.format(course="courses.id")}
    WHERE id IN (SELECT course_id FROM course_tags WHERE tag_id = NEW.id); END""",  # noqa: S608
)
SQLITE_DROP = ("tags_renamed", "course_tags_removed", "course_tags_added")

# (name, table, columns, postgresql_where, postgresql_using); all built concurrently.
INDEXES = (
    ("ix_courses_listed_search_tags", "courses", ["search_vector", "tag_names"], LISTED, "gin"),
    (
        "ix_courses_listed_level_created_at_id",
        "courses",
        ["level", "created_at", "id"],
        LISTED,
        None,
    ),
    ("ix_reviews_user_id", "reviews", ["user_id"], None, None),
    ("ix_idempotency_keys_purchase_id", "idempotency_keys", ["purchase_id"], None, None),
    ("ix_revenue_entries_purchase_item_id", "revenue_entries", ["purchase_item_id"], None, None),
)


def _execute(script: str) -> None:
    # asyncpg prepares one statement at a time: the scripts keep a blank line between them.
    for statement in script.strip().split("\n\n"):
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _upgrade_sqlite()
        return
    # One short transaction: new columns (no rewrite) and the triggers that keep them.
    op.add_column(
        "courses",
        sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True),
        if_not_exists=True,
    )
    op.add_column(
        "courses",
        sa.Column("tag_names", postgresql.ARRAY(sa.Text()), nullable=True),
        if_not_exists=True,
    )
    _execute(PG_FUNCTIONS)
    _execute(PG_DROP_TRIGGERS)  # a re-run after a failed one starts clean
    _execute(PG_TRIGGERS)
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        after = "00000000-0000-0000-0000-000000000000"
        while True:  # each batch commits on its own: row locks held for one batch only
            done = bind.execute(PG_BACKFILL, {"after": after, "size": BATCH}).scalars().all()
            if not done:
                break
            after = str(max(done))
        for name, table, columns, where, using in INDEXES:
            op.create_index(
                name,
                table,
                columns,
                postgresql_where=where,
                postgresql_using=using,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
        op.drop_index(
            "ix_courses_search", table_name="courses", postgresql_concurrently=True, if_exists=True
        )


def _upgrade_sqlite() -> None:
    op.add_column("courses", sa.Column("search_vector", sa.Text(), nullable=True))
    op.add_column("courses", sa.Column("tag_names", sa.JSON(), nullable=True))
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute(f"UPDATE courses SET tag_names = {SQLITE_TAGS_OF.format(course='courses.id')}")  # noqa: S608
    for name, table, columns, _where, using in INDEXES:
        if using is None:
            op.create_index(name, table, columns)


def downgrade() -> None:
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    if on_postgresql:
        _execute(PG_DROP_TRIGGERS)
        _execute(PG_DROP_FUNCTIONS)
        op.create_index(
            "ix_courses_search",
            "courses",
            [sa.literal_column("to_tsvector('english'::regconfig, title || ' ' || description)")],
            postgresql_using="gin",
        )
    else:
        for trigger in SQLITE_DROP:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for name, table, _columns, _where, using in INDEXES:
        if on_postgresql or using is None:
            op.drop_index(name, table_name=table)
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("tag_names")
        batch.drop_column("search_vector")
