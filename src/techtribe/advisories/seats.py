"""Seats of advisory slots: advisories own them; checkout takes them, refunds give them back;
a member lists theirs."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.advisories.schemas import BookedSlot, SlotRead
from techtribe.errors import Conflict
from techtribe.pagination import Key, Ordering, paginate


class SoldOut(Conflict):
    code, detail_text = "sold_out", "This advisory slot has no seats left."


# One seat, or no row: racing buyers can't overfill a slot.
_TAKE_SEAT = (
    update(AdvisorySlot)
    .where(
        AdvisorySlot.id == bindparam("slot_id"),
        AdvisorySlot.cancelled_at.is_(None),
        AdvisorySlot.seats_taken < AdvisorySlot.capacity,
    )
    .values(seats_taken=AdvisorySlot.seats_taken + 1)
    .execution_options(synchronize_session=False)
)


async def take_seat(session: AsyncSession, slot_id: uuid.UUID) -> None:
    """One seat of the slot, or `sold_out`. The booking is `book`'s (after every seat: this
    UPDATE would flush a pending booking out of the caller's conflict handling)."""
    taken = await session.execute(_TAKE_SEAT, {"slot_id": slot_id})
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise SoldOut()


def book(session: AsyncSession, *, slot_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The member's booking of a seat taken; the caller's flush reports a second one (unique)."""
    session.add(Booking(slot_id=slot_id, user_id=user_id))


async def release_seat(session: AsyncSession, *, slot_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The member's booking goes and its seat is free again (a refund, a cancelled slot)."""
    removed = await session.execute(
        delete(Booking).where(Booking.user_id == user_id, Booking.slot_id == slot_id)
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        await session.execute(
            update(AdvisorySlot)
            .where(AdvisorySlot.id == slot_id)
            .values(seats_taken=AdvisorySlot.seats_taken - 1)
            .execution_options(synchronize_session=False)
        )


BOOKING_ORDER = Ordering(
    "newest",
    (Key.timestamp(Booking.created_at, descending=True), Key.uuid(Booking.id, descending=True)),
)


def _keys(row: Any) -> list[Any]:
    """Sort values of a (booking, slot) row: the booking's time and id."""
    return [row[0].created_at, row[0].id]


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
