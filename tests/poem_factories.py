"""Factories for the poems tests: poems and ratings made through the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.poems.models import Poem, PoemRating
from tests.helpers import API, Member


def marker() -> str:
    """A title prefix no other test's poem contains (the database is shared)."""
    return f"Pq{uuid.uuid4().hex[:8]}"


async def publish(
    client: httpx.AsyncClient, author: Member, *, title: str = "A poem", body: str = "Words.\n"
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/poems", json={"title": title, "body": body}, headers=author.headers
    )
    assert response.status_code == 201, response.text
    poem: dict[str, Any] = response.json()
    return poem


async def rate(
    client: httpx.AsyncClient,
    rater: Member,
    poem_id: str,
    score: int,
    comment: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"score": score}
    if comment is not None:
        body["comment"] = comment
    return await client.post(f"{API}/poems/{poem_id}/ratings", json=body, headers=rater.headers)


async def rated(
    client: httpx.AsyncClient, rater: Member, poem_id: str, score: int, comment: str | None = None
) -> dict[str, Any]:
    response = await rate(client, rater, poem_id, score, comment)
    assert response.status_code == 201, response.text
    rating: dict[str, Any] = response.json()
    return rating


async def read_poem(client: httpx.AsyncClient, poem_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/poems/{poem_id}")
    assert response.status_code == 200, response.text
    poem: dict[str, Any] = response.json()
    return poem


async def counts_of(client: httpx.AsyncClient, admin: Member, user_id: str) -> tuple[int, int]:
    """(poems_count, ratings_count) as admins see them."""
    response = await client.get(f"{API}/users/{user_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["poems_count"], body["ratings_count"]


async def stored_aggregates(db: AsyncSession, poem_id: str) -> tuple[int, int, int, int]:
    """(count column, sum column, rating rows, sum of rating rows) for one poem."""
    db.expire_all()
    pid = uuid.UUID(poem_id)
    poem = await db.scalar(select(Poem).where(Poem.id == pid))
    assert poem is not None
    rows = (
        await db.execute(
            select(func.count(), func.coalesce(func.sum(PoemRating.score), 0)).where(
                PoemRating.poem_id == pid
            )
        )
    ).one()
    return poem.ratings_count, poem.ratings_sum, rows[0], rows[1]


async def ratings_rows(db: AsyncSession, **where: Any) -> int:
    db.expire_all()
    conditions = [getattr(PoemRating, name) == uuid.UUID(value) for name, value in where.items()]
    count = await db.scalar(select(func.count()).select_from(PoemRating).where(*conditions))
    return int(count or 0)
