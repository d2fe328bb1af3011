"""`/admin/outbox`: admins list e-mails by status (never their tokens) and retry failed ones."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.outbox import enqueue
from tests.helpers import (
    API,
    assert_problem,
    assert_unauthorized,
    mailed_parts,
    member,
    outbox_for,
    rated_data,
    unique_email,
)

FIELDS = {
    "id",
    "kind",
    "recipient",
    "subject",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "next_attempt_at",
    "sent_at",
}


async def fail(db: AsyncSession, message_id: uuid.UUID, error: str = "550 no such user") -> None:
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status="failed", attempts=5, last_error=error)
    )
    await db.commit()


async def test_anonymous_is_401_and_non_admins_403(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    student = await member(client, db)
    instructor = await member(client, db, role="instructor")
    some_id = uuid.uuid4()

    assert_unauthorized(await client.get(f"{API}/admin/outbox"), "not_authenticated")
    assert_unauthorized(
        await client.post(f"{API}/admin/outbox/{some_id}/retry"), "not_authenticated"
    )
    for who in (student, instructor):
        response = await client.get(f"{API}/admin/outbox", headers=who.headers)
        assert_problem(response, 403, "forbidden")
        response = await client.post(f"{API}/admin/outbox/{some_id}/retry", headers=who.headers)
        assert_problem(response, 403, "forbidden")


async def test_failed_list_shows_the_failed_message_without_its_payload(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    victim = await member(client, db)
    [welcome] = await outbox_for(db, victim.email, "welcome")
    await fail(db, welcome.id)

    response = await client.get(
        f"{API}/admin/outbox?status=failed&limit=100", headers=admin.headers
    )

    assert response.status_code == 200, response.text
    page = response.json()
    [item] = [item for item in page["items"] if item["id"] == str(welcome.id)]
    assert set(item) == FIELDS
    assert (item["status"], item["attempts"], item["last_error"]) == (
        "failed",
        5,
        "550 no such user",
    )
    assert item["recipient"] == victim.email
    assert str(mailed_parts(welcome)["token"]) not in response.text
    assert {entry["status"] for entry in page["items"]} == {"failed"}


async def test_status_filter_and_cursor_pages(client: httpx.AsyncClient, db: AsyncSession) -> None:
    admin = await member(client, db, role="admin")
    pending_seen: list[str] = []
    cursor = None
    for _ in range(3):
        query = "status=pending&limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(f"{API}/admin/outbox?{query}", headers=admin.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        assert {item["status"] for item in page["items"]} <= {"pending"}
        pending_seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(pending_seen) == len(set(pending_seen))  # pages never repeat


async def test_unknown_status_and_bad_cursor_are_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    response = await client.get(f"{API}/admin/outbox?status=lost", headers=admin.headers)
    assert_problem(response, 422, "validation_error")
    response = await client.get(f"{API}/admin/outbox?cursor=nonsense", headers=admin.headers)
    assert_problem(response, 422, "invalid_cursor")


async def test_retry_puts_a_failed_message_back_to_pending(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    # A message without a one-time link (one with a link loses it when it fails for good).
    notice = await enqueue(db, kind="poem_rated", recipient=unique_email(), data=rated_data())
    await db.commit()
    await fail(db, notice.id)

    response = await client.post(f"{API}/admin/outbox/{notice.id}/retry", headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"], body["attempts"]) == (str(notice.id), "pending", 0)
    assert set(body) == FIELDS


async def test_retrying_a_message_that_is_not_failed_is_409(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    [welcome] = await outbox_for(db, admin.email, "welcome")
    await db.execute(
        update(OutboxMessage).where(OutboxMessage.id == welcome.id).values(status="sent")
    )
    await db.commit()

    response = await client.post(f"{API}/admin/outbox/{welcome.id}/retry", headers=admin.headers)

    assert_problem(response, 409, "not_failed")


async def test_retrying_an_unknown_message_is_404(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    response = await client.post(f"{API}/admin/outbox/{uuid.uuid4()}/retry", headers=admin.headers)
    assert_problem(response, 404, "not_found")
