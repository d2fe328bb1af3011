"""A member's enrollments, as a page (courses own enrollments: `service.enroll`, `unenroll`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from techtribe.courses.models import Course, Enrollment
from techtribe.courses.schemas import CourseRead, OwnedCourse
from techtribe.pagination import Key, Ordering, paginate

ENROLLMENT_ORDER = Ordering(
    "newest",
    (
        Key.timestamp(Enrollment.created_at, descending=True),
        Key.uuid(Enrollment.id, descending=True),
    ),
)


def _keys(row: Any) -> list[Any]:
    """Sort values of an (enrollment, course) row: the enrollment's time and id."""
    return [row[0].created_at, row[0].id]


async def enrollments(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[OwnedCourse], str | None]:
    """The caller's courses, archived ones included, most recently bought first."""
    stmt = (
        select(Enrollment, Course)
        .join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.user_id == user_id)
        .options(joinedload(Course.instructor), selectinload(Course.tags))
    )
    rows, next_cursor = await paginate(
        session, stmt, ENROLLMENT_ORDER, limit=limit, cursor=cursor, scalars=False, key_of=_keys
    )
    items = [
        OwnedCourse(**CourseRead.model_validate(course).model_dump(), enrolled_at=grant.created_at)
        for grant, course in rows
    ]
    return items, next_cursor
