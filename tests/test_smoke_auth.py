"""A first pass through register, login and /users/me."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.helpers import API, member


async def test_registered_member_reads_their_own_account(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db, full_name="Alice")
    response = await client.get(f"{API}/users/me", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == alice.email
    assert body["role"] == "student"
    assert "password_hash" not in response.text
