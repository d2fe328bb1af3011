"""What a member owns: enrollments and bookings, as purchases granted them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.advisories.schemas import SlotRead
from techtribe.courses.models import Course, Enrollment
from techtribe.courses.schemas import CourseRead
from techtribe.pagination import Key, Ordering, paginate
from techtribe.purchases.schemas import BookedSlot, OwnedCourse

ENROLLMENT_ORDER = Ordering(
    "newest",
    (
        Key.timestamp(Enrollment.created_at, descending=True),
        Key.uuid(Enrollment.id, descending=True),
    ),
)
BOOKING_ORDER = Ordering(
    "newest",
    (Key.timestamp(Booking.created_at, descending=True), Key.uuid(Booking.id, descending=True)),
)


def _keys(row: Any) -> list[Any]:
    """Sort values of a (grant, thing) row: the grant's time and id."""
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


async def bookings(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[BookedSlot], str | None]:
    """The caller's advisory seats, most recently booked first."""
    stmt = (
        select(Booking, AdvisorySlot)
        .join(AdvisorySlot, AdvisorySlot.id == Booking.slot_id)
        .where(Booking.user_id == user_id)
        .options(joinedload(AdvisorySlot.instructor))
    )
    rows, next_cursor = await paginate(
        session, stmt, BOOKING_ORDER, limit=limit, cursor=cursor, scalars=False, key_of=_keys
    )
    items = [
        BookedSlot(**SlotRead.model_validate(slot).model_dump(), booked_at=grant.created_at)
        for grant, slot in rows
    ]
    return items, next_cursor
