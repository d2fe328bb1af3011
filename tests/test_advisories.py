"""Advisory slots (asesorías): `GET/POST /advisories`, `GET/DELETE /advisories/{id}`."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.advisories.models import AdvisorySlot, Booking
from tests.helpers import (
    API,
    Member,
    assert_problem,
    assert_unauthorized,
    mailed_parts,
    member,
    outbox_for,
)

ADVISORIES = f"{API}/advisories"
SLOTS = 25
PAGE = 7
RACERS = 10


def at(days: int = 30, hour: int = 10, minute: int = 0) -> datetime:
    """A whole-minute UTC time `days` from today, so every slot is safely in the future."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days, hours=hour, minutes=minute)


def slot_body(starts_at: datetime | str | None = None, **overrides: Any) -> dict[str, Any]:
    start = starts_at if starts_at is not None else at()
    body: dict[str, Any] = {
        "topic": "Async SQLAlchemy office hours",
        "description": "Bring your tracebacks.",
        "starts_at": start if isinstance(start, str) else start.isoformat(),
        "duration_minutes": 60,
        "price_cents": 2500,
        "currency": "USD",
        "capacity": 3,
    }
    body.update(overrides)
    return body


async def create(
    client: httpx.AsyncClient, caller: Member, starts_at: datetime | None = None, **overrides: Any
) -> httpx.Response:
    return await client.post(
        ADVISORIES, json=slot_body(starts_at, **overrides), headers=caller.headers
    )


async def created(
    client: httpx.AsyncClient, caller: Member, starts_at: datetime | None = None, **overrides: Any
) -> dict[str, Any]:
    response = await create(client, caller, starts_at, **overrides)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def listing(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get(ADVISORIES, params=params)


async def listed_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await listing(client, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    return [item["id"] for item in body["items"]]


async def cancel(client: httpx.AsyncClient, slot_id: str, caller: Member | None) -> httpx.Response:
    headers = caller.headers if caller else {}
    return await client.delete(f"{ADVISORIES}/{slot_id}", headers=headers)


async def live_slots(db: AsyncSession, instructor: Member) -> int:
    db.expire_all()
    count = await db.scalar(
        select(func.count())
        .select_from(AdvisorySlot)
        .where(
            AdvisorySlot.instructor_id == uuid.UUID(instructor.id),
            AdvisorySlot.cancelled_at.is_(None),
        )
    )
    return int(count or 0)


async def stored_slot(
    db: AsyncSession, instructor: Member, starts_at: datetime, *, capacity: int = 2
) -> str:
    """A slot written straight to the database (the API refuses starts in the past)."""
    slot = AdvisorySlot(
        instructor_id=uuid.UUID(instructor.id),
        topic="Stored directly",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=60),
        duration_minutes=60,
        price_cents=0,
        currency="USD",
        capacity=capacity,
    )
    db.add(slot)
    await db.commit()
    return str(slot.id)


# --- creating -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["instructor", "admin"])
async def test_instructor_or_admin_creates_a_slot_with_every_field(
    client: httpx.AsyncClient, db: AsyncSession, role: str
) -> None:
    caller = await member(client, db, role=role, full_name="Grace Hopper")
    start = at(days=12, hour=9, minute=30)

    response = await create(client, caller, start, duration_minutes=90, capacity=4)

    assert response.status_code == 201, response.text
    slot = response.json()
    assert response.headers["location"] == f"{ADVISORIES}/{slot['id']}"
    assert uuid.UUID(slot["id"])
    assert slot["topic"] == "Async SQLAlchemy office hours"
    assert slot["description"] == "Bring your tracebacks."
    assert datetime.fromisoformat(slot["starts_at"]) == start
    assert datetime.fromisoformat(slot["ends_at"]) == start + timedelta(minutes=90)
    assert datetime.fromisoformat(slot["ends_at"]).utcoffset() == timedelta(0)
    assert slot["duration_minutes"] == 90
    assert (slot["price_cents"], slot["currency"]) == (2500, "USD")
    assert (slot["capacity"], slot["seats_left"]) == (4, 4)
    assert slot["cancelled"] is False
    assert slot["instructor"] == {"id": caller.id, "full_name": "Grace Hopper"}
    fetched = await client.get(f"{ADVISORIES}/{slot['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == slot


async def test_slot_start_with_another_offset_is_stored_as_the_same_instant(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    start = at(days=15, hour=8)
    in_bogota = start.astimezone(datetime.fromisoformat("2000-01-01T00:00:00-05:00").tzinfo)

    slot = await created(client, instructor, in_bogota)

    assert datetime.fromisoformat(slot["starts_at"]) == start
    assert datetime.fromisoformat(slot["starts_at"]).utcoffset() == timedelta(0)


async def test_student_creating_a_slot_is_403_forbidden(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    student = await member(client, db)

    assert_problem(await create(client, student), 403, "forbidden")
    assert await live_slots(db, student) == 0


async def test_anonymous_creating_a_slot_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(ADVISORIES, json=slot_body())

    assert_unauthorized(response, "not_authenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"starts_at": "2031-05-01T10:00:00"}, "starts_at"),
        ({"price_cents": -1}, "price_cents"),
        ({"price_cents": 25.0}, "price_cents"),
        ({"price_cents": 12.5}, "price_cents"),
        ({"price_cents": "2500"}, "price_cents"),
        ({"price_cents": 100_000_001}, "price_cents"),
        ({"capacity": 0}, "capacity"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "dollars"}, "currency"),
        ({"topic": ""}, "topic"),
        ({"topic": "   "}, "topic"),
        ({"duration_minutes": 0}, "duration_minutes"),
    ],
    ids=[
        "start-without-offset",
        "negative-price",
        "float-price",
        "fractional-price",
        "string-price",
        "price-too-high",
        "capacity-zero",
        "unknown-currency",
        "currency-not-a-code",
        "empty-topic",
        "blank-topic",
        "zero-duration",
    ],
)
async def test_invalid_slot_is_422_naming_the_field(
    client: httpx.AsyncClient, db: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    instructor = await member(client, db, role="instructor")

    response = await client.post(
        ADVISORIES, json=slot_body(**overrides), headers=instructor.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert [error["loc"][-1] for error in body["errors"]] == [field], body["errors"]
    assert all(error["msg"] for error in body["errors"])
    assert await live_slots(db, instructor) == 0


@pytest.mark.parametrize("start", [timedelta(hours=-1), timedelta(seconds=-1)])
async def test_slot_starting_in_the_past_is_422(
    client: httpx.AsyncClient, db: AsyncSession, start: timedelta
) -> None:
    instructor = await member(client, db, role="instructor")

    response = await create(client, instructor, datetime.now(UTC) + start)

    body = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body", "starts_at"]]
    assert await live_slots(db, instructor) == 0


# --- overlaps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset_minutes", "duration"),
    [(0, 60), (30, 60), (-30, 60), (15, 15), (-30, 120)],
    ids=["same-time", "starts-inside", "ends-inside", "contained", "contains"],
)
async def test_overlapping_own_slot_is_409_slot_overlap(
    client: httpx.AsyncClient, db: AsyncSession, offset_minutes: int, duration: int
) -> None:
    instructor = await member(client, db, role="instructor")
    start = at(days=20, hour=10)
    await created(client, instructor, start)

    response = await create(
        client, instructor, start + timedelta(minutes=offset_minutes), duration_minutes=duration
    )

    assert_problem(response, 409, "slot_overlap")
    assert await live_slots(db, instructor) == 1


async def test_back_to_back_slots_do_not_overlap(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    ten = at(days=21, hour=10)
    hour = timedelta(minutes=60)

    # Half-open intervals: each new slot touches an existing one, once on each side.
    middle = await create(client, instructor, ten)
    before = await create(client, instructor, ten - hour)
    after = await create(client, instructor, ten + hour)

    assert [r.status_code for r in (middle, before, after)] == [201] * 3, after.text
    assert datetime.fromisoformat(before.json()["ends_at"]) == ten
    assert datetime.fromisoformat(middle.json()["starts_at"]) == ten
    assert datetime.fromisoformat(middle.json()["ends_at"]) == ten + hour
    assert datetime.fromisoformat(after.json()["starts_at"]) == ten + hour
    assert await live_slots(db, instructor) == 3


async def test_another_instructors_slot_at_the_same_time_is_fine(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, role="instructor")
    linus = await member(client, db, role="instructor")
    start = at(days=22, hour=10)

    first = await create(client, ada, start)
    second = await create(client, linus, start)

    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.json()["instructor"]["id"] == linus.id


async def test_cancelled_slot_does_not_block_a_new_one_at_the_same_time(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    start = at(days=23, hour=10)
    old = await created(client, instructor, start)
    assert (await cancel(client, old["id"], instructor)).status_code == 204

    response = await create(client, instructor, start)

    assert response.status_code == 201, response.text
    assert response.json()["id"] != old["id"]
    assert await live_slots(db, instructor) == 1


async def test_concurrent_overlapping_slots_let_exactly_one_through(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    start = at(days=24, hour=10)

    # Each request gets its own session from the app; they race for the same hour.
    responses = await asyncio.gather(
        *(
            create(client, instructor, start + timedelta(minutes=5 * i), topic=f"racer {i}")
            for i in range(RACERS)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (RACERS - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "slot_overlap")
    [winner] = [response.json() for response in responses if response.status_code == 201]
    assert await live_slots(db, instructor) == 1
    stored = await db.scalar(
        select(AdvisorySlot).where(AdvisorySlot.instructor_id == uuid.UUID(instructor.id))
    )
    assert stored is not None
    assert (str(stored.id), stored.topic) == (winner["id"], winner["topic"])
    assert await listed_ids(client, instructor_id=instructor.id) == [winner["id"]]


# --- listing --------------------------------------------------------------------------


async def test_listing_is_public_and_filters_by_instructor(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, role="instructor")
    linus = await member(client, db, role="instructor")
    ada_slots = [(await created(client, ada, at(days=40, hour=h)))["id"] for h in (9, 11)]
    await created(client, linus, at(days=40, hour=9))

    response = await listing(client, instructor_id=ada.id)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "next_cursor"}
    assert [item["id"] for item in body["items"]] == ada_slots
    assert {item["instructor"]["id"] for item in body["items"]} == {ada.id}
    assert_problem(await listing(client, instructor_id="not-a-uuid"), 422, "validation_error")


async def test_from_and_to_are_inclusive_on_start_times(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    starts = [at(days=41, hour=h) for h in (8, 10, 12, 14, 16)]
    slots = [(await created(client, instructor, start))["id"] for start in starts]
    mine = {"instructor_id": instructor.id}

    between = await listed_ids(
        client, **mine, **{"from": starts[1].isoformat(), "to": starts[3].isoformat()}
    )
    from_only = await listed_ids(client, **mine, **{"from": starts[3].isoformat()})
    to_only = await listed_ids(client, **mine, to=starts[1].isoformat())
    # `from` compares start times: a slot still running at `from` (8:00-9:00) is left out.
    inside_first = await listed_ids(
        client, **mine, **{"from": (starts[0] + timedelta(minutes=30)).isoformat()}
    )
    # The same instant written with another offset.
    bogota = datetime.fromisoformat("2000-01-01T00:00:00-05:00").tzinfo
    offset = await listed_ids(
        client,
        **mine,
        **{"from": starts[2].astimezone(bogota).isoformat(), "to": starts[2].isoformat()},
    )

    assert between == slots[1:4]
    assert from_only == slots[3:]
    assert to_only == slots[:2]
    assert inside_first == slots[1:]
    assert offset == [slots[2]]


@pytest.mark.parametrize("name", ["from", "to"])
async def test_range_bound_without_utc_offset_is_422(client: httpx.AsyncClient, name: str) -> None:
    response = await listing(client, **{name: "2031-05-01T10:00:00"})

    body = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["query", name]]


async def test_available_hides_past_full_and_cancelled_slots(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    open_slot = await created(client, instructor, at(days=42, hour=9), capacity=2)
    full = await created(client, instructor, at(days=42, hour=11), capacity=2)
    cancelled = await created(client, instructor, at(days=42, hour=13))
    past = await stored_slot(db, instructor, at(days=-2, hour=9))
    await db.execute(
        update(AdvisorySlot)
        .where(AdvisorySlot.id == uuid.UUID(full["id"]))
        .values(seats_taken=AdvisorySlot.capacity)
    )
    await db.commit()
    assert (await cancel(client, cancelled["id"], instructor)).status_code == 204
    mine = {"instructor_id": instructor.id}

    everything = await listing(client, **mine)
    available = await listed_ids(client, **mine, available="true")
    not_filtered = await listed_ids(client, **mine, available="false")

    assert [item["id"] for item in everything.json()["items"]] == [
        past,
        open_slot["id"],
        full["id"],
    ]
    seats = {item["id"]: item["seats_left"] for item in everything.json()["items"]}
    assert seats == {past: 2, open_slot["id"]: 2, full["id"]: 0}
    assert available == [open_slot["id"]]
    assert not_filtered == [past, open_slot["id"], full["id"]]


@pytest.mark.parametrize("limit", [0, -1, 101, "ten"])
async def test_limit_outside_1_to_100_is_422(client: httpx.AsyncClient, limit: object) -> None:
    body = assert_problem(await listing(client, limit=limit), 422, "validation_error")

    assert [error["loc"] for error in body["errors"]] == [["query", "limit"]]


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_bounds_are_accepted(client: httpx.AsyncClient, limit: int) -> None:
    response = await listing(client, limit=limit)

    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) <= limit


def cursor_of(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        cursor_of({"s": "newest", "k": [1]}),  # another listing's cursor
        cursor_of({"s": "starts_at", "k": ["2031-01-01T00:00:00+00:00"]}),  # a key short
        cursor_of({"s": "starts_at", "k": ["not a time", str(uuid.uuid4())]}),
        cursor_of({"s": "starts_at", "k": ["2031-01-01T00:00:00+00:00", "not-a-uuid"]}),
    ],
    ids=["garbage", "not-base64", "other-listing", "key-short", "bad-time", "bad-id"],
)
async def test_garbage_cursor_is_422(client: httpx.AsyncClient, cursor: str) -> None:
    body = assert_problem(await listing(client, cursor=cursor), 422, "invalid_cursor")

    assert [error["loc"] for error in body["errors"]] == [["query", "cursor"]]


async def test_pages_cover_every_slot_once_in_start_order(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    other = await member(client, db, role="instructor")
    # Several slots share a start time (other instructors' own slots may), so ids break ties.
    slots = [
        await created(client, instructor, at(days=50 + i % 5, hour=8 + i // 5))
        for i in range(SLOTS)
    ]
    tied_start = at(days=50, hour=8)
    for _ in range(3):
        slots.append(await created(client, await member(client, db, role="instructor"), tied_start))
    outside = await created(client, other, at(days=49))
    window = {"from": tied_start.isoformat(), "to": at(days=54, hour=12).isoformat()}

    pages: list[list[str]] = []
    cursor = None
    while True:
        params = {**window, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
        response = await listing(client, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) <= SLOTS, "pagination does not end"

    everything = [slot_id for page in pages for slot_id in page]
    expected = sorted(
        slots, key=lambda slot: (datetime.fromisoformat(slot["starts_at"]), uuid.UUID(slot["id"]))
    )
    mine = {slot["id"] for slot in slots}
    assert [len(page) for page in pages][:-1] == [PAGE] * (len(pages) - 1)
    assert len(everything) == len(set(everything))
    assert outside["id"] not in everything
    # Other tests' slots may fall into the window too: ours must come in order, none missing.
    assert [slot_id for slot_id in everything if slot_id in mine] == [s["id"] for s in expected]


async def test_instructor_pages_follow_start_then_id(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    slots = [await created(client, instructor, at(days=60, hour=7 + i)) for i in range(SLOTS // 2)]

    pages: list[list[str]] = []
    cursor = None
    while cursor is not None or not pages:
        params: dict[str, Any] = {"instructor_id": instructor.id, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        body = (await listing(client, **params)).json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]

    assert [len(page) for page in pages] == [5, 5, 2]
    assert [slot_id for page in pages for slot_id in page] == [slot["id"] for slot in slots]


# --- reading one ----------------------------------------------------------------------


async def test_reading_a_slot_is_public(client: httpx.AsyncClient, db: AsyncSession) -> None:
    instructor = await member(client, db, role="instructor", full_name="Ada Lovelace")
    slot = await created(client, instructor, at(days=70))

    response = await client.get(f"{ADVISORIES}/{slot['id']}")

    assert response.status_code == 200
    assert response.json()["id"] == slot["id"]
    assert response.json()["instructor"] == {"id": instructor.id, "full_name": "Ada Lovelace"}


async def test_reading_an_unknown_slot_is_404_not_found(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{ADVISORIES}/{uuid.uuid4()}"), 404, "not_found")
    assert_problem(await client.get(f"{ADVISORIES}/not-a-uuid"), 422, "validation_error")


# --- cancelling -----------------------------------------------------------------------


async def test_owner_cancels_a_slot_and_it_leaves_the_listings(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    slot = await created(client, instructor, at(days=80))
    kept = await created(client, instructor, at(days=81))

    response = await cancel(client, slot["id"], instructor)

    assert response.status_code == 204
    assert response.content == b""
    assert await listed_ids(client, instructor_id=instructor.id) == [kept["id"]]
    shown = (await client.get(f"{ADVISORIES}/{slot['id']}")).json()
    assert (shown["cancelled"], shown["seats_left"]) == (True, 0)
    assert await live_slots(db, instructor) == 1


async def test_admin_cancels_any_instructors_slot(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    slot = await created(client, instructor, at(days=82))

    assert (await cancel(client, slot["id"], admin)).status_code == 204
    assert (await client.get(f"{ADVISORIES}/{slot['id']}")).json()["cancelled"] is True


@pytest.mark.parametrize("role", ["instructor", "student"])
async def test_cancelling_someone_elses_slot_is_403_forbidden(
    client: httpx.AsyncClient, db: AsyncSession, role: str
) -> None:
    owner = await member(client, db, role="instructor")
    stranger = await member(client, db, role=role)
    slot = await created(client, owner, at(days=83))

    assert_problem(await cancel(client, slot["id"], stranger), 403, "forbidden")
    assert (await client.get(f"{ADVISORIES}/{slot['id']}")).json()["cancelled"] is False


async def test_cancelling_anonymously_is_401(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner = await member(client, db, role="instructor")
    slot = await created(client, owner, at(days=84))

    assert_unauthorized(await cancel(client, slot["id"], None), "not_authenticated")
    assert (await client.get(f"{ADVISORIES}/{slot['id']}")).json()["cancelled"] is False


async def test_cancelling_an_unknown_slot_is_404(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")

    assert_problem(await cancel(client, str(uuid.uuid4()), admin), 404, "not_found")


async def test_cancelling_twice_is_409(client: httpx.AsyncClient, db: AsyncSession) -> None:
    instructor = await member(client, db, role="instructor")
    slot = await created(client, instructor, at(days=85))
    assert (await cancel(client, slot["id"], instructor)).status_code == 204

    assert_problem(await cancel(client, slot["id"], instructor), 409, "already_cancelled")


async def test_cancelling_tells_every_booked_student(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    booked = [await member(client, db) for _ in range(2)]
    bystander = await member(client, db)
    slot = await created(client, instructor, at(days=86), topic="Keyset pagination")
    db.add_all(Booking(slot_id=uuid.UUID(slot["id"]), user_id=uuid.UUID(s.id)) for s in booked)
    await db.execute(
        update(AdvisorySlot)
        .where(AdvisorySlot.id == uuid.UUID(slot["id"]))
        .values(seats_taken=len(booked))
    )
    await db.commit()

    assert (await cancel(client, slot["id"], instructor)).status_code == 204

    for student in booked:
        [message] = await outbox_for(db, student.email, "advisory_cancelled")
        assert message.user_id == uuid.UUID(student.id)
        assert "Keyset pagination" in message.subject
        assert message.payload["slot_id"] == slot["id"]
        assert "Keyset pagination" in mailed_parts(message)["text"]
    assert await outbox_for(db, bystander.email, "advisory_cancelled") == []
    assert await outbox_for(db, instructor.email, "advisory_cancelled") == []


async def test_refused_cancel_queues_no_message(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await member(client, db, role="instructor")
    stranger = await member(client, db, role="instructor")
    student = await member(client, db)
    slot = await created(client, owner, at(days=87))
    db.add(Booking(slot_id=uuid.UUID(slot["id"]), user_id=uuid.UUID(student.id)))
    await db.commit()

    assert_problem(await cancel(client, slot["id"], stranger), 403, "forbidden")

    assert await outbox_for(db, student.email, "advisory_cancelled") == []
