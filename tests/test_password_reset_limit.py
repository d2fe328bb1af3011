"""`PASSWORD_RESET_MAX_PER_HOUR`: reset e-mails per account per hour, counted in the database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import OneTimeToken
from techtribe.db import utcnow
from tests.helpers import API, outbox_for, register, unique_email


async def ask_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(f"{API}/auth/password-reset", json={"email": email})


async def test_reset_requests_past_the_hourly_limit_answer_the_same_and_send_nothing(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    stranger = await ask_reset(client, unique_email("nobody"))

    answers = [await ask_reset(client, user["email"]) for _ in range(5)]

    assert len(await outbox_for(db, user["email"], "password_reset")) == 3
    for answer in answers:
        assert answer.status_code == 202
        assert answer.content == stranger.content
        assert answer.headers.get("content-length") == stranger.headers.get("content-length")


async def test_concurrent_reset_requests_queue_no_more_than_the_limit(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)

    answers = await asyncio.gather(*(ask_reset(client, user["email"]) for _ in range(8)))

    assert {answer.status_code for answer in answers} == {202}
    assert len(await outbox_for(db, user["email"], "password_reset")) == 3


async def test_reset_limit_counts_the_last_hour_only(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    for _ in range(3):
        await ask_reset(client, user["email"])
    # The three links were mailed an hour and a minute ago.
    await db.execute(
        update(OneTimeToken)
        .where(OneTimeToken.user_id == uuid.UUID(user["id"]))
        .values(created_at=utcnow() - timedelta(hours=1, minutes=1))
    )
    await db.commit()

    assert (await ask_reset(client, user["email"])).status_code == 202

    assert len(await outbox_for(db, user["email"], "password_reset")) == 4


async def test_reset_limit_is_per_account(client: httpx.AsyncClient, db: AsyncSession) -> None:
    first, second = await register(client), await register(client)
    for _ in range(4):
        await ask_reset(client, first["email"])

    await ask_reset(client, second["email"])

    assert len(await outbox_for(db, first["email"], "password_reset")) == 3
    assert len(await outbox_for(db, second["email"], "password_reset")) == 1
