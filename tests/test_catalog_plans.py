"""The catalog's SQL keeps good plans on a realistic catalog: a regression guard that can't
flake, because it counts buffers (pages the plan touched), not milliseconds.

A private database gets 20,000 courses (the bench's shape: 20 tags of very different
frequency, three levels, a topic word per course, 91 % listed) and `ANALYZE`. Each query
the catalog sends runs under `EXPLAIN (ANALYZE, BUFFERS)`, with the statement and values
the app builds (`catalog.page_query`, `catalog.DETAIL`). A plan that walks an index and
filters row by row (the search cliff of issue 18: a rare word + tag + level read 50,000
rows) touches hundreds of buffers per row it returns; the good plans touch a few.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from techtribe.courses.catalog import COURSE_SORTS, DETAIL, CourseFilters, page_query
from techtribe.pagination import derive_key, signing_key
from tests.conftest import ON_POSTGRES, private_database

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's plans")

COURSES = 20_000
# Measured on this seed (docs/performance.md): today's plans read at most 14 buffers per
# returned row (a word and a tag, any order), most under 9, a course page 11. Before
# migration 0012 (words and tags checked on fetched rows, not on index entries) searches
# read up to 57; before 0010 the tag filters read 110-484 (a semi-join over `course_tags`).
MAX_BUFFERS_PER_ROW = 30

TAGS = {
    "python": 30, "javascript": 20, "sql": 12, "web": 10, "data": 8, "devops": 6, "go": 5,
    "rust": 4, "security": 3, "ml": 2, "testing": 4, "cloud": 4, "linux": 3, "git": 3,
    "docker": 3, "kubernetes": 2, "react": 2, "typescript": 2, "api": 2, "async": 1,
}  # fmt: skip
TOPICS = [
    "Python", "FastAPI", "SQL", "PostgreSQL", "React", "TypeScript", "Docker", "Kubernetes",
    "Rust", "Go", "Machine Learning", "Security", "Testing", "Linux", "Git",
]  # fmt: skip
WORDS = ["python", "go", "rust", "kubernetes"]
SEARCH_TAGS = ["python", "docker", "async"]
LEVELS = [None, "beginner", "advanced"]

SEED = """
SELECT setseed(0.11);

INSERT INTO users (id, email, full_name, role, is_active, email_verified, created_at,
                   updated_at)
SELECT gen_random_uuid(), 'plans-' || n || '@example.com', 'Instructor ' || n, 'instructor',
       true, true, now(), now()
FROM generate_series(1, 100) AS n;

CREATE TEMP TABLE seed_instructors AS
SELECT row_number() OVER (ORDER BY id) AS n, id FROM users;

INSERT INTO tags (id, name) SELECT gen_random_uuid(), name FROM unnest({tags}) AS name;

CREATE TEMP TABLE seed_tags AS
SELECT tags.id, w.weight,
       sum(w.weight) OVER (ORDER BY w.n) - w.weight AS low, sum(w.weight) OVER () AS total,
       sum(w.weight) OVER (ORDER BY w.n) AS high
FROM unnest({tags}, {weights}) WITH ORDINALITY AS w(name, weight, n)
JOIN tags ON tags.name = w.name;

CREATE TEMP TABLE seed_courses AS
SELECT gen_random_uuid() AS id, n, 1 + floor(random() * 100)::int AS instructor,
       ({topics})[1 + floor(random() * {topic_count})::int] AS topic,
       random() AS level_draw, random() AS listed_draw, random() AS price_draw,
       1 + floor(random() * 3)::int AS tag_count,
       now() - random() * interval '3 years' AS created
FROM generate_series(1, {courses}) AS n;

INSERT INTO courses (id, instructor_id, title, description, price_cents, currency, level,
                     published, archived, reviews_count, rating_sum, rating_avg, created_at,
                     updated_at)
SELECT c.id, i.id, 'Practical ' || c.topic || ' #' || c.n,
       'Learn ' || c.topic || ' step by step: projects, exercises and a final review.',
       (c.price_draw * 300)::int * 100, 'USD',
       CASE WHEN c.level_draw < 0.45 THEN 'beginner'
            WHEN c.level_draw < 0.8 THEN 'intermediate' ELSE 'advanced' END,
       c.listed_draw < 0.91, c.listed_draw > 0.97, (c.n % 7), (c.n % 7) * 4,
       CASE WHEN c.n % 7 = 0 THEN 0 ELSE 4.0 END, c.created, c.created
FROM seed_courses c JOIN seed_instructors i ON i.n = c.instructor;

INSERT INTO course_tags (course_id, tag_id)
SELECT DISTINCT c.id, t.id
FROM seed_courses c
CROSS JOIN LATERAL generate_series(1, c.tag_count) AS pick(k)
-- `0 * pick.k`: a fresh draw per pick (a subquery without it is evaluated once).
CROSS JOIN LATERAL (SELECT (SELECT max(total) FROM seed_tags) * random() + 0 * pick.k AS draw) AS d
JOIN seed_tags t ON d.draw >= t.low AND d.draw < t.high;

INSERT INTO lessons (id, course_id, title, content, position, created_at, updated_at)
SELECT gen_random_uuid(), c.id, 'Lesson ' || p, 'Text.', p, now(), now()
FROM seed_courses c CROSS JOIN generate_series(0, 2) AS p;
"""


def seed_sql() -> str:
    def words(values: list[str]) -> str:
        return "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]"

    return SEED.strip().format(
        tags=words(list(TAGS)),
        weights="ARRAY[" + ", ".join(map(str, TAGS.values())) + "]",
        topics=words(TOPICS),
        topic_count=len(TOPICS),
        courses=COURSES,
    )


@pytest.fixture(scope="module")
async def catalog_db() -> AsyncIterator[asyncpg.Connection]:
    """A private database with the catalog seeded and analysed, dropped afterwards."""
    async with private_database("techtribe_plans") as url:
        # The app's connection setting (db.create_engine): plans made with the values.
        connection = await asyncpg.connect(
            url.replace("postgresql+asyncpg://", "postgresql://", 1),
            server_settings={"plan_cache_mode": "force_custom_plan"},
        )
        try:
            for statement in seed_sql().split("\n\n"):
                await connection.execute(statement)
            await connection.execute("VACUUM ANALYZE")
            yield connection
        finally:
            await connection.close()


async def explain(connection: asyncpg.Connection, stmt: Any, values: dict[str, Any]) -> Any:
    """`EXPLAIN (ANALYZE, BUFFERS)` of `stmt` as the app sends it (asyncpg's SQL text)."""
    compiled = stmt.compile(dialect=asyncpg_dialect())
    params = compiled.construct_params(values)
    arguments = [params[name] for name in compiled.positiontup]
    plan = await connection.fetchval(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}", *arguments
    )
    return json.loads(plan)[0]["Plan"]


def buffers_per_row(plan: Any) -> float:
    touched = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    return float(touched / max(plan["Actual Rows"], 1))


async def page(
    connection: asyncpg.Connection, filters: CourseFilters, sort: str, cursor: str | None = None
) -> Any:
    stmt, values = page_query("postgresql", filters, sort=sort, limit=20, cursor=cursor)
    return await explain(connection, stmt, values)


def assert_cheap(label: str, plan: Any) -> float:
    cost = buffers_per_row(plan)
    assert cost <= MAX_BUFFERS_PER_ROW, (
        f"{label}: {cost:.0f} buffers per returned row (bound {MAX_BUFFERS_PER_ROW}): "
        f"{json.dumps(plan)[:2000]}"
    )
    return cost


async def test_every_search_combination_reads_few_buffers_per_row(
    catalog_db: asyncpg.Connection,
) -> None:
    plans = {}
    for word, tag, level in itertools.product(WORDS, SEARCH_TAGS, LEVELS):
        filters = CourseFilters(q=word, tag=tag, level=level)
        plans[f"q={word}&tag={tag}&level={level}"] = await page(catalog_db, filters, "newest")
    for tag, level in itertools.product(SEARCH_TAGS, LEVELS):
        filters = CourseFilters(tag=tag, level=level)
        plans[f"tag={tag}&level={level}"] = await page(catalog_db, filters, "newest")
    for sort in COURSE_SORTS:
        filters = CourseFilters(q="python", tag="docker")
        plans[f"q=python&tag=docker&sort={sort}"] = await page(catalog_db, filters, sort)
    for label, plan in plans.items():
        assert_cheap(label, plan)


async def test_list_pages_in_every_order_read_few_buffers_per_row(
    catalog_db: asyncpg.Connection,
) -> None:
    for sort in COURSE_SORTS:
        first = await page(catalog_db, CourseFilters(), sort)
        assert first["Actual Rows"] == 21
        assert_cheap(f"first page, {sort}", first)
    # A deep page: the cursor of the 10,000th listed course, newest first.
    row = await catalog_db.fetchrow(
        "SELECT created_at, id FROM courses WHERE published AND NOT archived "
        "ORDER BY created_at DESC, id DESC OFFSET 10000 LIMIT 1"
    )
    # Cursors are signed; any key will do where the test makes and reads its own.
    with signing_key(derive_key("catalog plans")):
        cursor = COURSE_SORTS["newest"].encode(row)
        deep = await page(catalog_db, CourseFilters(), "newest", cursor)
    assert deep["Actual Rows"] == 21
    assert_cheap("deep page", deep)


async def test_course_pages_read_few_buffers(catalog_db: asyncpg.Connection) -> None:
    ids = await catalog_db.fetch("SELECT id FROM courses ORDER BY random() LIMIT 20")
    for (course_id,) in ids:
        plan = await explain(catalog_db, DETAIL, {"course_id": course_id})
        assert plan["Actual Rows"] == 1
        assert_cheap(f"course page {course_id}", plan)
