"""The catalog's reads: course cards, one statement per page or course, no ORM objects.

These are the busiest endpoints, so a page is a single SELECT that brings each course
with its instructor's name and its tags (and, for one course, its lesson outline) as
JSON aggregates, and the rows become plain dicts that the response model checks once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.courses.models import (
    SEARCH_DOCUMENT,
    Course,
    Lesson,
    Tag,
    average_score,
    course_tags,
)
from techtribe.courses.service import CourseNotFound, is_enrolled
from techtribe.db import json_list, json_object
from techtribe.pagination import Key, Ordering, paginate
from techtribe.users.models import Role, User

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


# Correlated subqueries: each card row carries its own tags and (detail) lesson outline.
_TAG_NAMES = (
    select(json_list(Tag.name))
    .select_from(course_tags.join(Tag, Tag.id == course_tags.c.tag_id))
    .where(course_tags.c.course_id == Course.id)
    .scalar_subquery()
)
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


def card_select() -> AnySelect:
    """What a course card shows, and the sort keys a cursor is made of."""
    stmt = select(
        Course.id,
        Course.title,
        Course.description,
        Course.price_cents,
        Course.currency,
        Course.level,
        Course.published,
        Course.archived,
        Course.reviews_count,
        Course.rating_sum,
        Course.rating_avg,
        Course.created_at,
        Course.updated_at,
        Course.instructor_id,
        User.full_name.label("instructor_name"),
        _TAG_NAMES.label("tags"),
    )
    return stmt.join(User, User.id == Course.instructor_id)


def card(row: Row[Any]) -> dict[str, Any]:
    """A `CourseRead` of a `card_select` row."""
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "price_cents": row.price_cents,
        "currency": row.currency,
        "level": row.level,
        "tags": sorted(row.tags or ()),
        "published": row.published,
        "archived": row.archived,
        "instructor": {"id": row.instructor_id, "full_name": row.instructor_name},
        "average_score": average_score(row.rating_sum, row.reviews_count),
        "reviews_count": row.reviews_count,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


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


def filtered_courses(stmt: AnySelect, f: CourseFilters, session: AsyncSession) -> AnySelect:
    if f.q:
        if session.get_bind().dialect.name == "postgresql":
            query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), f.q)
            stmt = stmt.where(SEARCH_DOCUMENT.op("@@")(query))
        else:
            pattern = f"%{f.q}%"
            stmt = stmt.where(or_(Course.title.ilike(pattern), Course.description.ilike(pattern)))
    if f.tag:
        tagged = (
            select(course_tags.c.course_id)
            .join(Tag, Tag.id == course_tags.c.tag_id)
            .where(Tag.name == f.tag.strip().lower())
        )
        stmt = stmt.where(Course.id.in_(tagged))
    if f.level:
        stmt = stmt.where(Course.level == f.level)
    if f.instructor_id:
        stmt = stmt.where(Course.instructor_id == f.instructor_id)
    if f.min_price is not None:
        stmt = stmt.where(Course.price_cents >= f.min_price)
    if f.max_price is not None:
        stmt = stmt.where(Course.price_cents <= f.max_price)
    return stmt


def listed(stmt: AnySelect) -> AnySelect:
    """Only courses in the catalog: published and not archived (the partial indexes' rows)."""
    return stmt.where(Course.published, ~Course.archived)


async def list_courses(
    session: AsyncSession,
    filters: CourseFilters,
    *,
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    stmt = filtered_courses(listed(card_select()), filters, session)
    rows, next_cursor = await paginate(
        session, stmt, COURSE_SORTS[sort], limit=limit, cursor=cursor, scalars=False
    )
    return [card(row) for row in rows], next_cursor


async def course_detail(
    session: AsyncSession, course_id: uuid.UUID, viewer: User | None
) -> dict[str, Any]:
    """A course and its outline as `viewer` may see it: drafts and archived ones are 404 to
    outsiders; an archived course stays visible to its buyers."""
    stmt = card_select().add_columns(_OUTLINE.label("lessons")).where(Course.id == course_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise CourseNotFound()
    visible = row.published and not row.archived
    if not visible and viewer is not None:
        visible = viewer.role == Role.admin or row.instructor_id == viewer.id
        if not visible and row.archived:
            visible = await is_enrolled(session, viewer.id, row.id)
    if not visible:
        raise CourseNotFound()
    return {**card(row), "lessons": _outline(row.lessons)}


async def instructor_courses(
    session: AsyncSession, instructor_id: uuid.UUID
) -> list[dict[str, Any]]:
    """An instructor's listed courses, newest first (for the public profile)."""
    stmt = listed(card_select()).where(Course.instructor_id == instructor_id)
    rows = await session.execute(stmt.order_by(*COURSE_SORTS["newest"].order_by()))
    return [card(row) for row in rows]
