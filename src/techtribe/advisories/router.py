"""`/advisories`: instructors' bookable one-to-one sessions (asesorías)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from techtribe.advisories import seats, service
from techtribe.advisories.schemas import BookedSlot, SlotCreate, SlotRead
from techtribe.auth.dependencies import Instructor, Viewer
from techtribe.db import ReadSessions, SessionDep
from techtribe.inputs import Timestamp
from techtribe.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/advisories", tags=["advisories"])


async def cancellation_refunds(request: Request) -> service.RefundBookings:
    """Whoever refunds a cancelled slot's seats: purchases, wired in by the app
    (`app.state.cancellation_refunds`), since advisories sit below purchases."""
    make: Callable[[Request], Awaitable[service.RefundBookings]]
    make = request.app.state.cancellation_refunds
    return await make(request)


RefundsDep = Annotated[service.RefundBookings, Depends(cancellation_refunds)]


@router.get("", response_model=Page[SlotRead])
async def list_slots(
    reads: ReadSessions,
    instructor_id: uuid.UUID | None = None,
    starts_from: Annotated[
        Timestamp | None, Query(alias="from", description="Start at or after (inclusive).")
    ] = None,
    starts_to: Annotated[
        Timestamp | None, Query(alias="to", description="Start at or before (inclusive).")
    ] = None,
    available: Annotated[bool, Query(description="Only future slots with seats left.")] = False,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    """Live (not cancelled) slots by start time, with the seats left in each."""
    async with reads() as session:
        items, next_cursor = await service.list_slots(
            session,
            instructor_id=instructor_id,
            starts_from=starts_from,
            starts_to=starts_to,
            available=available,
            limit=limit,
            cursor=cursor,
        )
    return {"items": items, "next_cursor": next_cursor}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SlotRead)
async def create_slot(
    body: SlotCreate, user: Instructor, session: SessionDep, response: Response
) -> Any:
    """A new slot of the caller's; it may not overlap another of theirs (`409 slot_overlap`)."""
    slot = await service.create_slot(session, instructor=user, data=body)
    response.headers["Location"] = f"/api/v1/advisories/{slot.id}"
    return slot


@router.get("/{slot_id}", response_model=SlotRead)
async def read_slot(slot_id: uuid.UUID, reads: ReadSessions) -> Any:
    async with reads() as session:
        return await service.get_slot(session, slot_id)


@router.delete("/{slot_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel_slot(
    slot_id: uuid.UUID, user: Instructor, session: SessionDep, refund: RefundsDep
) -> Response:
    """Cancel the slot; booked students are refunded and told by e-mail."""
    await service.cancel_slot(session, slot_id, user, refund=refund)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# `/users/me/bookings`: the member's seats, served here, by their owner.
members_router = APIRouter(tags=["users"])


@members_router.get("/users/me/bookings", response_model=Page[BookedSlot])
async def my_bookings(
    user: Viewer, reads: ReadSessions, limit: LimitQuery = 20, cursor: CursorQuery = None
) -> Any:
    """The advisory slots the caller booked, most recently booked first."""
    async with reads() as session:
        items, next_cursor = await seats.bookings(session, user.id, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}
