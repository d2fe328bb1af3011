"""Seats of advisory slots: advisories own them; checkout takes them, refunds give them back;
a member lists theirs."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.advisories.schemas import BookedSlot, SlotRead
from techtribe.db import utcnow
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


# PostgreSQL takes the seat and books it in one round trip (a booking only if a seat was
# taken); SQLite allows no writes inside a WITH, so there the booking is added to the
# session and goes out with the caller's flush.
_SEAT = _TAKE_SEAT.returning(AdvisorySlot.id).cte("seat")
_BOOKINGS = cast(Table, Booking.__table__)
_TAKE_SEAT_AND_BOOK = (
    insert(_BOOKINGS)
    .from_select(
        ["id", "slot_id", "user_id", "created_at"],
        select(
            bindparam("booking_id", type_=Booking.id.type),
            _SEAT.c.id,
            bindparam("user_id", type_=Booking.user_id.type),
            bindparam("now", type_=Booking.created_at.type),
        ),
    )
    .add_cte(_SEAT)
    .returning(_BOOKINGS.c.id)
)


async def take_seat(session: AsyncSession, *, slot_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """One seat of the slot and the member's booking of it, or `sold_out`.

    A second booking by the same member trips the unique (slot, user) constraint, at once
    on PostgreSQL, at the caller's flush on SQLite: the caller maps it to `already_booked`.
    """
    if session.get_bind().dialect.name == "postgresql":
        params = {"slot_id": slot_id, "booking_id": uuid.uuid4(), "user_id": user_id}
        booked = await session.execute(_TAKE_SEAT_AND_BOOK, {**params, "now": utcnow()})
        taken = booked.first() is not None
    else:
        updated = await session.execute(_TAKE_SEAT, {"slot_id": slot_id})
        taken = updated.rowcount == 1  # type: ignore[attr-defined]
        if taken:
            session.add(Booking(slot_id=slot_id, user_id=user_id))
    if not taken:
        raise SoldOut()


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
