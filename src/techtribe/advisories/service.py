"""Advisory slots: no overlaps per instructor, listing, and cancelling with its hook."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.advisories.schemas import SlotCreate
from techtribe.auth.models import Role, User
from techtribe.db import utcnow
from techtribe.errors import Conflict, DomainError, Forbidden, NotFound
from techtribe.notifications.outbox import enqueue
from techtribe.pagination import Key, Ordering, paginate


class SlotNotFound(NotFound):
    detail_text = "No such advisory slot."


class SlotOverlap(Conflict):
    code, detail_text = "slot_overlap", "This slot overlaps another of your advisory slots."


class SlotInPast(DomainError):
    status, code, detail_text = (
        422,
        "validation_error",
        "An advisory slot must start in the future.",
    )

    def __init__(self) -> None:
        super().__init__()
        self.extra["errors"] = [
            {"loc": ["body", "starts_at"], "msg": self.detail, "type": "value_error"}
        ]


class AlreadyCancelled(Conflict):
    code, detail_text = "already_cancelled", "This advisory slot is already cancelled."


# PostgreSQL's SQLSTATE for a violated exclusion constraint (`ex_advisory_slots_no_overlap`).
EXCLUSION_VIOLATION = "23P01"

# Refunds the cancelled slot's bookings (purchases provides it, the app wires it in:
# `router.cancellation_refunds`).
RefundBookings = Callable[[AsyncSession, AdvisorySlot, list[Booking]], Awaitable[None]]

SLOT_ORDER = Ordering(
    "starts_at", (Key.timestamp(AdvisorySlot.starts_at), Key.uuid(AdvisorySlot.id))
)


def _overlapping(
    instructor_id: uuid.UUID, starts_at: datetime, ends_at: datetime
) -> Select[AdvisorySlot]:
    # Half-open intervals: [a, b) and [c, d) overlap when a < d and c < b.
    return select(AdvisorySlot).where(
        AdvisorySlot.instructor_id == instructor_id,
        AdvisorySlot.cancelled_at.is_(None),
        AdvisorySlot.starts_at < ends_at,
        AdvisorySlot.ends_at > starts_at,
    )


async def create_slot(session: AsyncSession, *, instructor: User, data: SlotCreate) -> AdvisorySlot:
    # Stored and answered in UTC, so the 201 shows the same times a later GET reads back.
    starts_at = data.starts_at.astimezone(UTC)
    if starts_at <= utcnow():
        raise SlotInPast()
    ends_at = starts_at + timedelta(minutes=data.duration_minutes)
    slot = AdvisorySlot(
        instructor_id=instructor.id,
        ends_at=ends_at,
        **data.model_dump(exclude={"starts_at"}),
        starts_at=starts_at,
    )
    session.add(slot)
    try:
        # PostgreSQL: the exclusion constraint decides races between concurrent creations;
        # the INSERT waits for a racing transaction and fails once that one commits.
        # No savepoint: the request fails as a whole anyway, and on SQLite (the pysqlite
        # driver issues no BEGIN before a SAVEPOINT) releasing one would commit the row
        # before the check below had a say.
        await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise SlotOverlap() from None
        raise
    # SQLite has no exclusion constraints. Its INSERT above took the database's single
    # write lock, held until this request commits, so this check sees every committed
    # slot and no overlapping one can be committed meanwhile.
    clash = await session.scalar(
        _overlapping(instructor.id, slot.starts_at, ends_at)
        .where(AdvisorySlot.id != slot.id)
        .limit(1)
    )
    if clash is not None:
        raise SlotOverlap()
    slot.instructor = instructor
    return slot


async def get_slot(session: AsyncSession, slot_id: uuid.UUID) -> AdvisorySlot:
    slot = await session.scalar(
        select(AdvisorySlot)
        .where(AdvisorySlot.id == slot_id)
        .options(joinedload(AdvisorySlot.instructor))
    )
    if slot is None:
        raise SlotNotFound()
    return slot


async def list_slots(
    session: AsyncSession,
    *,
    instructor_id: uuid.UUID | None,
    starts_from: datetime | None,
    starts_to: datetime | None,
    available: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[AdvisorySlot], str | None]:
    stmt = (
        select(AdvisorySlot)
        .where(AdvisorySlot.cancelled_at.is_(None))
        .options(joinedload(AdvisorySlot.instructor))
    )
    if instructor_id:
        stmt = stmt.where(AdvisorySlot.instructor_id == instructor_id)
    if starts_from:
        stmt = stmt.where(AdvisorySlot.starts_at >= starts_from)
    if starts_to:
        stmt = stmt.where(AdvisorySlot.starts_at <= starts_to)
    if available:
        stmt = stmt.where(
            AdvisorySlot.starts_at > utcnow(), AdvisorySlot.seats_taken < AdvisorySlot.capacity
        )
    return await paginate(session, stmt, SLOT_ORDER, limit=limit, cursor=cursor)


async def cancel_slot(
    session: AsyncSession, slot_id: uuid.UUID, user: User, *, refund: RefundBookings
) -> AdvisorySlot:
    """Cancel a slot: every booked student is refunded and told, in one transaction."""
    slot = await get_slot(session, slot_id)
    if user.role != Role.admin and slot.instructor_id != user.id:
        raise Forbidden("Only the slot's instructor or an admin may cancel it.")
    if slot.cancelled_at is not None:
        raise AlreadyCancelled()
    slot.cancelled_at = utcnow()
    bookings = list(
        await session.scalars(
            select(Booking).where(Booking.slot_id == slot.id).options(joinedload(Booking.user))
        )
    )
    await refund(session, slot, bookings)
    for booking in bookings:
        if booking.user.email is None:
            continue
        await enqueue(
            session,
            kind="advisory_cancelled",
            recipient=booking.user.email,
            user_id=booking.user_id,
            data={
                "slot_id": str(slot.id),
                "name": booking.user.full_name,
                "topic": slot.topic,
                "starts_at": f"{slot.starts_at:%Y-%m-%d %H:%M} UTC",
            },
        )
    await session.flush()
    return slot
