"""Refunds: an admin's whole-purchase refund, and the seats of a cancelled advisory slot."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import add_lesson, create_course
from tests.helpers import API, assert_problem, assert_unauthorized, mailed_parts, member, outbox_for
from tests.purchasing import buy, create_slot, sandbox


async def test_admin_refund_withdraws_access_frees_the_seat_and_refunds_the_card(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=35000)
    lesson = await add_lesson(client, ana, course["id"], 1)
    slot = await create_slot(client, ana, price_cents=4000, capacity=1)
    bought = await buy(client, student, ("course", course["id"]), ("advisory", slot["id"]))
    assert bought.status_code == 201, bought.text
    purchase_id = bought.json()["id"]
    refunds_before = len(sandbox(app).refunds)

    response = await client.post(f"{API}/purchases/{purchase_id}/refund", headers=admin.headers)

    assert response.status_code == 200, response.text
    refunded = response.json()
    assert refunded["status"] == "refunded"
    assert refunded["refunded_at"] is not None
    assert all(item["refunded"] for item in refunded["items"])
    assert [r.amount_cents for r in sandbox(app).refunds[refunds_before:]] == [39000]
    lesson_path = f"{API}/courses/{course['id']}/lessons/{lesson['id']}"
    assert_problem(await client.get(lesson_path, headers=student.headers), 403, "not_enrolled")
    assert (await client.get(f"{API}/advisories/{slot['id']}")).json()["seats_left"] == 1
    mine = await client.get(f"{API}/users/me/bookings", headers=student.headers)
    assert mine.json()["items"] == []
    assert len(await outbox_for(db, student.email, "purchase_refunded")) == 1
    # Refunded, the course can be bought again.
    assert (await buy(client, student, ("course", course["id"]))).status_code == 201


async def test_refunding_twice_is_409_and_refunds_once(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    student = await member(client, db)
    course = await create_course(client, ana)
    purchase_id = (await buy(client, student, ("course", course["id"]))).json()["id"]
    path = f"{API}/purchases/{purchase_id}/refund"
    assert (await client.post(path, headers=admin.headers)).status_code == 200
    refunds_before = len(sandbox(app).refunds)

    assert_problem(await client.post(path, headers=admin.headers), 409, "already_refunded")
    assert len(sandbox(app).refunds) == refunds_before


async def test_only_admins_refund(client: httpx.AsyncClient, db: AsyncSession) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    purchase_id = (await buy(client, student, ("course", course["id"]))).json()["id"]
    path = f"{API}/purchases/{purchase_id}/refund"

    assert_unauthorized(await client.post(path), "not_authenticated")
    assert_problem(await client.post(path, headers=student.headers), 403, "forbidden")
    assert_problem(await client.post(path, headers=ana.headers), 403, "forbidden")
    purchase = await client.get(f"{API}/purchases/{purchase_id}", headers=student.headers)
    assert purchase.json()["status"] == "paid"


async def test_refund_of_unknown_purchase_is_404(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    response = await client.post(
        f"{API}/purchases/00000000-0000-4000-8000-000000000000/refund", headers=admin.headers
    )
    assert_problem(response, 404, "not_found")


async def test_cancelling_a_slot_refunds_each_booked_seat_and_tells_the_student(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    slot = await create_slot(client, ana, price_cents=4000, capacity=3)
    course = await create_course(client, ana, price_cents=15000)
    first, second = await member(client, db), await member(client, db)
    with_course = await buy(client, first, ("advisory", slot["id"]), ("course", course["id"]))
    only_seat = await buy(client, second, ("advisory", slot["id"]))
    refunds_before = len(sandbox(app).refunds)

    response = await client.delete(f"{API}/advisories/{slot['id']}", headers=ana.headers)

    assert response.status_code == 204
    assert sorted(r.amount_cents for r in sandbox(app).refunds[refunds_before:]) == [4000, 4000]
    mixed = await client.get(f"{API}/purchases/{with_course.json()['id']}", headers=first.headers)
    assert mixed.json()["status"] == "paid"  # the course line stands
    assert {i["kind"]: i["refunded"] for i in mixed.json()["items"]} == {
        "advisory": True,
        "course": False,
    }
    seat = await client.get(f"{API}/purchases/{only_seat.json()['id']}", headers=second.headers)
    assert seat.json()["status"] == "refunded"
    for student in (first, second):
        messages = await outbox_for(db, student.email, "advisory_cancelled")
        assert len(messages) == 1
        assert "refunded" in mailed_parts(messages[0])["text"]
