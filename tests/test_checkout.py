"""`POST /purchases`: a card pays for courses and seats, once per key, all or nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.purchases.models import Purchase
from tests.catalog import add_lesson, create_course
from tests.helpers import API, assert_problem, assert_unauthorized, mailed_parts, member, outbox_for
from tests.purchasing import DECLINED_CARD, TIMEOUT_CARD, buy, card, create_slot, order, sandbox


async def purchases_of(db: AsyncSession, user_id: str) -> int:
    count = await db.scalar(
        select(func.count()).select_from(Purchase).where(Purchase.user_id == uuid.UUID(user_id))
    )
    return int(count or 0)


async def test_buying_a_course_charges_the_card_and_opens_the_lessons(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=35000, currency="USD")
    lesson = await add_lesson(client, ana, course["id"], 1)
    lesson_path = f"{API}/courses/{course['id']}/lessons/{lesson['id']}"
    assert_problem(await client.get(lesson_path, headers=student.headers), 403, "not_enrolled")
    charges_before = sandbox(app).charge_count

    response = await buy(client, student, ("course", course["id"]))

    assert response.status_code == 201, response.text
    purchase = response.json()
    assert purchase["status"] == "paid"
    assert purchase["total_cents"] == 35000
    assert purchase["currency"] == "USD"
    assert purchase["card"] == {"brand": "visa", "last4": "4242"}
    assert purchase["items"][0]["kind"] == "course"
    assert purchase["items"][0]["id"] == course["id"]
    assert purchase["items"][0]["price_cents"] == 35000
    assert purchase["created_at"].endswith(("Z", "+00:00"))
    assert sandbox(app).charge_count == charges_before + 1
    assert (await client.get(lesson_path, headers=student.headers)).status_code == 200
    mine = await client.get(f"{API}/users/me/enrollments", headers=student.headers)
    assert [item["id"] for item in mine.json()["items"]] == [course["id"]]
    receipts = await outbox_for(db, student.email, "purchase_receipt")
    assert len(receipts) == 1
    assert purchase["id"] in mailed_parts(receipts[0])["text"]


async def test_price_comes_from_the_catalog_not_the_client(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=15000)
    body = order(("course", course["id"]))
    body["items"][0]["price_cents"] = 1
    body["total_cents"] = 1

    response = await client.post(
        f"{API}/purchases", json=body, headers={**student.headers, "Idempotency-Key": "k-price"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["total_cents"] == 15000


async def test_missing_idempotency_key_is_400(client: httpx.AsyncClient, db: AsyncSession) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)

    response = await client.post(
        f"{API}/purchases", json=order(("course", course["id"])), headers=student.headers
    )

    assert_problem(response, 400, "idempotency_key_required")
    assert await purchases_of(db, student.id) == 0


async def test_anonymous_checkout_is_401(client: httpx.AsyncClient, db: AsyncSession) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    response = await client.post(
        f"{API}/purchases", json=order(("course", course["id"])), headers={"Idempotency-Key": "x"}
    )
    assert_unauthorized(response, "not_authenticated")


async def test_same_key_and_body_replays_the_purchase_and_charges_once(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    charges_before = sandbox(app).charge_count

    first = await buy(client, student, ("course", course["id"]), key="order-1")
    again = await buy(client, student, ("course", course["id"]), key="order-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert sandbox(app).charge_count == charges_before + 1
    assert await purchases_of(db, student.id) == 1


async def test_same_key_with_another_body_is_409(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    first_course = await create_course(client, ana)
    second_course = await create_course(client, ana)
    assert (await buy(client, student, ("course", first_course["id"]), key="k")).status_code == 201

    response = await buy(client, student, ("course", second_course["id"]), key="k")

    assert_problem(response, 409, "idempotency_conflict")
    assert await purchases_of(db, student.id) == 1


async def test_another_members_identical_key_is_a_new_purchase(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    first, second = await member(client, db), await member(client, db)
    course = await create_course(client, ana)

    one = await buy(client, first, ("course", course["id"]), key="shared-key")
    two = await buy(client, second, ("course", course["id"]), key="shared-key")

    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]


async def test_concurrent_requests_with_one_key_make_one_purchase_and_one_charge(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    charges_before = sandbox(app).charge_count

    responses = await asyncio.gather(
        *(buy(client, student, ("course", course["id"]), key="raced-key") for _ in range(10))
    )

    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sandbox(app).charge_count == charges_before + 1
    assert await purchases_of(db, student.id) == 1


async def test_declined_card_is_402_and_grants_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    slot = await create_slot(client, ana)

    response = await buy(
        client,
        student,
        ("course", course["id"]),
        ("advisory", slot["id"]),
        payment=card(DECLINED_CARD),
    )

    assert_problem(response, 402, "card_declined")
    assert await purchases_of(db, student.id) == 0
    mine = await client.get(f"{API}/users/me/enrollments", headers=student.headers)
    assert mine.json()["items"] == []
    seats = (await client.get(f"{API}/advisories/{slot['id']}")).json()["seats_left"]
    assert seats == 1
    assert await outbox_for(db, student.email, "purchase_receipt") == []


async def test_gateway_timeout_grants_nothing_and_says_a_retry_is_safe(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)

    response = await buy(client, student, ("course", course["id"]), payment=card(TIMEOUT_CARD))

    assert_problem(response, 504, "payment_gateway_timeout")
    assert await purchases_of(db, student.id) == 0


@pytest.mark.parametrize(
    ("payment", "field"),
    [
        (card("4242424242424241"), "card_number"),
        (card("4242"), "card_number"),
        (card(exp_year=2020), "exp_year"),
        (card(exp_month=13), "exp_month"),
        (card(cvc="12"), "cvc"),
        (card("378282246310005", cvc="123"), "cvc"),
        (card(holder_name=" "), "holder_name"),
    ],
)
async def test_bad_card_is_422_without_echoing_it_and_changes_nothing(
    client: httpx.AsyncClient, db: AsyncSession, payment: dict[str, object], field: str
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)

    response = await buy(client, student, ("course", course["id"]), payment=payment)

    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == field for error in body["errors"]), body
    assert str(payment["card_number"]) not in response.text
    assert await purchases_of(db, student.id) == 0


async def test_owned_course_is_409_already_owned(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    assert (await buy(client, student, ("course", course["id"]))).status_code == 201

    response = await buy(client, student, ("course", course["id"]))

    assert_problem(response, 409, "already_owned")
    assert await purchases_of(db, student.id) == 1


async def test_draft_course_is_409_course_unavailable_and_unknown_is_404(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    draft = await create_course(client, ana, published=False)

    assert_problem(await buy(client, student, ("course", draft["id"])), 409, "course_unavailable")
    assert_problem(await buy(client, student, ("course", str(uuid.uuid4()))), 404, "not_found")


async def test_mixed_currencies_are_422_mixed_currency(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    dollars = await create_course(client, ana, currency="USD")
    euros = await create_course(client, ana, currency="EUR")

    response = await buy(client, student, ("course", dollars["id"]), ("course", euros["id"]))

    assert_problem(response, 422, "mixed_currency")
    assert await purchases_of(db, student.id) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"items": [], "payment": card()},
        {"items": [{"kind": "book", "id": str(uuid.uuid4())}], "payment": card()},
        {"items": [{"kind": "course", "id": "nope"}], "payment": card()},
        {"items": [{"kind": "course", "id": str(uuid.uuid4())}]},
    ],
)
async def test_malformed_order_is_422(
    client: httpx.AsyncClient, db: AsyncSession, body: dict[str, object]
) -> None:
    student = await member(client, db)
    response = await client.post(
        f"{API}/purchases", json=body, headers={**student.headers, "Idempotency-Key": "m"}
    )
    assert_problem(response, 422, "validation_error")


async def test_one_purchase_buys_a_course_and_a_seat_together(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=35000)
    slot = await create_slot(client, ana, price_cents=4000)

    response = await buy(client, student, ("course", course["id"]), ("advisory", slot["id"]))

    assert response.status_code == 201, response.text
    assert response.json()["total_cents"] == 39000
    bookings = (await client.get(f"{API}/users/me/bookings", headers=student.headers)).json()
    assert [item["id"] for item in bookings["items"]] == [slot["id"]]
    assert (await client.get(f"{API}/advisories/{slot['id']}")).json()["seats_left"] == 0


async def test_twenty_buyers_racing_for_one_seat_get_one_201_and_one_charge(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    slot = await create_slot(client, ana, capacity=1)
    buyers = [await member(client, db) for _ in range(20)]
    charges_before = sandbox(app).charge_count

    responses = await asyncio.gather(*(buy(client, b, ("advisory", slot["id"])) for b in buyers))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses if r.status_code != 409]
    assert all(r.json()["code"] == "sold_out" for r in responses if r.status_code == 409)
    assert sandbox(app).charge_count == charges_before + 1
    assert (await client.get(f"{API}/advisories/{slot['id']}")).json()["seats_left"] == 0


async def test_booking_the_same_slot_twice_is_409(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    slot = await create_slot(client, ana, capacity=5)
    assert (await buy(client, student, ("advisory", slot["id"]))).status_code == 201

    response = await buy(client, student, ("advisory", slot["id"]))

    assert_problem(response, 409, "already_booked")
    assert (await client.get(f"{API}/advisories/{slot['id']}")).json()["seats_left"] == 4


async def test_one_member_racing_six_bookings_of_one_slot_gets_one_seat_and_one_charge(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    # Different keys, so only the unique (slot, user) can stop the twins that pass the
    # ownership check together: on PostgreSQL inside the seat-and-booking statement.
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    slot = await create_slot(client, ana, capacity=5)
    charges_before = sandbox(app).charge_count

    responses = await asyncio.gather(
        *(buy(client, student, ("advisory", slot["id"])) for _ in range(6))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 5, [r.text for r in responses if r.status_code != 409]
    assert all(r.json()["code"] == "already_booked" for r in responses if r.status_code == 409)
    assert sandbox(app).charge_count == charges_before + 1
    assert (await client.get(f"{API}/advisories/{slot['id']}")).json()["seats_left"] == 4
