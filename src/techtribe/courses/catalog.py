"""The catalog's reads: course cards, one statement per page or course, no ORM objects.

These are the busiest endpoints, so a page is a single SELECT that brings each course
with its instructor's name and its tags (and, for one course, its lesson outline) as
JSON aggregates, and the rows become plain dicts (`card`) that go to JSON as they are.
The statements are Core, run on a connection (`db.ReadConnections`): no session (a
seventh of a course page's CPU) and no ORM result machinery (a twentieth).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from fastapi import Response
from sqlalchemy import (
    Integer,
    Row,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from techtribe.auth.models import User
from techtribe.courses.models import (
    Course,
    Lesson,
    Tag,
    average_score,
    course_tags,
)
from techtribe.courses.service import CourseNotFound, may_see
from techtribe.db import json_list, json_object
from techtribe.pagination import Key, Ordering

AnySelect = Select[*tuple[Any, ...]]

COURSE_SORTS = {
    "newest": Ordering(
        "newest",
        (Key.timestamp(Course.created_at, descending=True), Key.uuid(Course.id, descending=True)),
    ),
    "price": Ordering("price", (Key(Course.price_cents), Key.uuid(Course.id))),
    "-price": Ordering(
        "-price", (Key(Course.price_cents, descending=True), Key.uuid(Course.id, descending=True))
    ),
    "rating": Ordering(
        "rating", (Key(Course.rating_avg, descending=True), Key.uuid(Course.id, descending=True))
    ),
}


@dataclass(frozen=True)
class CourseFilters:
    q: str | None = None
    tag: str | None = None
    level: str | None = None
    instructor_id: uuid.UUID | None = None
    min_price: int | None = None
    max_price: int | None = None


# Correlated subquery: the lesson outline of a course page.
_OUTLINE = (
    select(
        json_list(
            json_object(
                literal_column("'id'"),
                Lesson.id,
                literal_column("'title'"),
                Lesson.title,
                literal_column("'position'"),
                Lesson.position,
            )
        )
    )
    .where(Lesson.course_id == Course.id)
    .scalar_subquery()
)

CardColumn = QueryableAttribute[Any] | ColumnElement[Any]

# A card's columns, defined once: `card_select` selects them in this order and `card`
# reads them back by position in the same order (positions, not names: per row of a
# page, a tenth of the cost of reading a row's attributes by name).
# These go to the card as they are, under their key ...
_AS_IS: tuple[CardColumn, ...] = (
    Course.id,
    Course.title,
    Course.description,
    Course.price_cents,
    Course.currency,
    Course.level,
    Course.tag_names.label("tags"),
    Course.published,
    Course.archived,
    Course.reviews_count,
    Course.created_at,
    Course.updated_at,
)
# ... and these make the card's `instructor` and `average_score`.
_DERIVED: tuple[CardColumn, ...] = (
    Course.instructor_id,
    User.full_name.label("instructor_name"),
    Course.rating_sum,
)
# ... and the sort key not shown on a card, for the `rating` order's cursor.
CARD_COLUMNS = (*_AS_IS, *_DERIVED, Course.rating_avg)
_AS_IS_KEYS = tuple(str(column.key) for column in _AS_IS)
_DERIVED_AT = slice(len(_AS_IS), len(_AS_IS) + len(_DERIVED))


def card_select() -> AnySelect:
    """What a course card shows (the sort keys a cursor is made of are among them)."""
    return select(*CARD_COLUMNS).join(User, User.id == Course.instructor_id)


class CatalogJSON(Response):
    """A catalog answer written straight to JSON.

    The dicts come from `card`, built field by field from typed columns, so a second pass
    through the response model (a tenth of a page's time) would check nothing new. The
    routes still declare their response model for the docs; a test holds the two equal.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # default=str: asyncpg's UUID subclass, which orjson leaves to the caller.
        return orjson.dumps(content, default=str, option=orjson.OPT_UTC_Z)


def card(row: Row[*tuple[Any, ...]]) -> dict[str, Any]:
    """A `CourseRead` of a `card_select` row."""
    answer = dict(zip(_AS_IS_KEYS, row, strict=False))
    instructor_id, instructor_name, rating_sum = row[_DERIVED_AT]
    answer["tags"] = answer["tags"] or []  # NULL: a course without tags
    answer["instructor"] = {"id": instructor_id, "full_name": instructor_name}
    answer["average_score"] = average_score(rating_sum, answer["reviews_count"])
    return answer


def _outline(lessons: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    # SQLite's JSON shows a UUID column as 32 hex digits: UUID() reads either spelling.
    return [
        {
            "id": uuid.UUID(str(lesson["id"])),
            "title": lesson["title"],
            "position": lesson["position"],
        }
        for lesson in sorted(lessons or (), key=lambda lesson: int(lesson["position"]))
    ]


def _filter_values(f: CourseFilters) -> dict[str, Any]:
    """The filters that are set, as the bind parameters of `_filter_clauses`."""
    values: dict[str, Any] = {
        "q": f.q or None,
        "tag": f.tag.strip().lower() if f.tag else None,
        "level": str(f.level) if f.level else None,
        "instructor_id": f.instructor_id,
        "min_price": f.min_price,
        "max_price": f.max_price,
    }
    return {name: value for name, value in values.items() if value is not None}


def _filter_clauses(names: frozenset[str], dialect: str) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filters `names`, with their values as bind parameters."""
    clauses: list[ColumnElement[bool]] = []
    if "q" in names:
        if dialect == "postgresql":
            query = func.websearch_to_tsquery(
                literal_column("'english'::regconfig"), bindparam("q", type_=String)
            )
            clauses.append(Course.search_vector.op("@@")(query))
        else:
            pattern = literal("%") + bindparam("q", type_=String) + literal("%")
            clauses.append(or_(Course.title.ilike(pattern), Course.description.ilike(pattern)))
    if "tag" in names:
        if dialect == "postgresql":
            wanted = cast(postgresql.array([bindparam("tag", type_=String)]), ARRAY(Text()))
            clauses.append(Course.tag_names.op("@>")(wanted))
        else:
            tagged = (
                select(course_tags.c.course_id)
                .join(Tag, Tag.id == course_tags.c.tag_id)
                .where(Tag.name == bindparam("tag", type_=String))
            )
            clauses.append(Course.id.in_(tagged))
    if "level" in names:
        clauses.append(Course.level == bindparam("level", type_=String))
    if "instructor_id" in names:
        clauses.append(Course.instructor_id == bindparam("instructor_id"))
    if "min_price" in names:
        clauses.append(Course.price_cents >= bindparam("min_price"))
    if "max_price" in names:
        clauses.append(Course.price_cents <= bindparam("max_price"))
    return clauses


def listed(stmt: AnySelect) -> AnySelect:
    """Only courses in the catalog: published and not archived (the partial indexes' rows)."""
    return stmt.where(Course.published, ~Course.archived)


# Filters no index range answers: each course passed over on the way is checked.
_CHECKED_PER_COURSE = frozenset({"q", "tag"})


@lru_cache(maxsize=512)
def _page_statement(dialect: str, sort: str, filters: frozenset[str], after: bool) -> AnySelect:
    # Built once per shape of request, values left as bind parameters: a statement made
    # afresh costs more to build and to find in SQLAlchemy's compiled cache than the page
    # costs PostgreSQL to run.
    ordering = COURSE_SORTS[sort]
    if filters & _CHECKED_PER_COURSE:
        # The page's ids first, then the cards of those ids only: where the order's index
        # carries the words and tags (`newest`, models.SEARCHED), the ids come from index
        # entries read in order, without fetching each course passed over.
        page = _cut(select(Course.id), ordering, filters, dialect, after).subquery("page")
        return card_select().join(page, page.c.id == Course.id).order_by(*ordering.order_by())
    return _cut(card_select(), ordering, filters, dialect, after)


def _cut(
    stmt: AnySelect, ordering: Ordering, filters: frozenset[str], dialect: str, after: bool
) -> AnySelect:
    """`stmt` cut to a page: listed courses, the filters, past the cursor, in order."""
    stmt = listed(stmt).where(*_filter_clauses(filters, dialect))
    if after:
        stmt = stmt.where(ordering.bound_after())
    return stmt.order_by(*ordering.order_by()).limit(bindparam("limit", type_=Integer))


def page_query(
    dialect: str, filters: CourseFilters, *, sort: str, limit: int, cursor: str | None
) -> tuple[AnySelect, dict[str, Any]]:
    """A catalog page's statement and its bind values (one more row than `limit`, to tell
    whether there is a next page)."""
    values = _filter_values(filters)
    stmt = _page_statement(dialect, sort, frozenset(values), cursor is not None)
    if cursor is not None:
        values.update(COURSE_SORTS[sort].bound_values(cursor))
    values["limit"] = limit + 1
    return stmt, values


async def list_courses(
    connection: AsyncConnection,
    filters: CourseFilters,
    *,
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    stmt, values = page_query(
        connection.dialect.name, filters, sort=sort, limit=limit, cursor=cursor
    )
    fetched = (await connection.execute(stmt, values)).all()
    rows, next_cursor = COURSE_SORTS[sort].cut(fetched, limit)
    return [card(row) for row in rows], next_cursor


# A course page: the card, its outline, by id (bind parameter `course_id`).
DETAIL = (
    card_select().add_columns(_OUTLINE.label("lessons")).where(Course.id == bindparam("course_id"))
)
_OF_INSTRUCTOR = (
    listed(card_select())
    .where(Course.instructor_id == bindparam("instructor_id"))
    .order_by(*COURSE_SORTS["newest"].order_by())
)


async def course_detail(
    connection: AsyncConnection, course_id: uuid.UUID, viewer: User | None
) -> dict[str, Any]:
    """A course and its outline as `viewer` may see it: drafts and archived ones are 404 to
    outsiders; an archived course stays visible to its buyers."""
    row = (await connection.execute(DETAIL, {"course_id": course_id})).first()
    if row is None:
        raise CourseNotFound()
    if not await may_see(
        connection,
        viewer,
        course_id=row.id,
        instructor_id=row.instructor_id,
        published=row.published,
        archived=row.archived,
    ):
        raise CourseNotFound()
    return {**card(row), "lessons": _outline(row.lessons)}


async def instructor_courses(
    connection: AsyncConnection, instructor_id: uuid.UUID
) -> list[dict[str, Any]]:
    """An instructor's listed courses, newest first (for the public profile)."""
    rows = await connection.execute(_OF_INSTRUCTOR, {"instructor_id": instructor_id})
    return [card(row) for row in rows]
