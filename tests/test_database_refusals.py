"""Database refusals a client can cause: unstorable text (NUL) and deadlocks, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import ON_POSTGRES
from tests.helpers import API, assert_oauth_error, assert_problem, member, unique_email


async def test_nul_in_a_query_parameter_is_422(client: httpx.AsyncClient) -> None:
    for params in ({"q": "py\x00thon"}, {"tag": "a\x00b"}):
        response = await client.get(f"{API}/courses", params=params)
        assert_problem(response, 422, "validation_error")


async def test_nul_in_a_body_is_422_and_stores_nothing(client: httpx.AsyncClient) -> None:
    email = unique_email()
    body = {"email": email, "password": "abcdefg1", "full_name": "Ada\u0000Lovelace"}

    response = await client.post(f"{API}/auth/register", json=body)

    assert_problem(response, 422, "validation_error")
    again = await client.post(f"{API}/auth/register", json={**body, "full_name": "Ada"})
    assert again.status_code == 201, again.text


async def test_nul_at_the_token_endpoint_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": "a\x00@example.com", "password": "x"},
    )
    assert_oauth_error(response, "invalid_request")


@pytest.fixture
async def poems_deadlock_on_a_title(engine: AsyncEngine) -> AsyncIterator[str]:
    """A trigger that fails like a deadlock victim would (SQLSTATE 40P01) for one title."""
    title = f"deadlock-{uuid.uuid4().hex[:8]}"
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE OR REPLACE FUNCTION test_deadlock() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; "
                "END $$ LANGUAGE plpgsql"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER test_deadlock BEFORE INSERT ON poems FOR EACH ROW "
                f"WHEN (NEW.title = '{title}') EXECUTE FUNCTION test_deadlock()"
            )
        )
    yield title
    async with engine.begin() as connection:
        await connection.execute(text("DROP TRIGGER test_deadlock ON poems"))
        await connection.execute(text("DROP FUNCTION test_deadlock()"))


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite has one writer at a time: no deadlocks")
async def test_a_deadlock_victim_is_told_to_retry_not_500(
    client: httpx.AsyncClient, db: AsyncSession, poems_deadlock_on_a_title: str
) -> None:
    author = await member(client, db)

    response = await client.post(
        f"{API}/poems",
        json={"title": poems_deadlock_on_a_title, "body": "Two locks\nin each other's way"},
        headers=author.headers,
    )

    assert_problem(response, 409, "concurrent_update")
    assert response.headers["retry-after"] == "1"
