"""Factories for catalog tests: courses made through the API, enrollments through the service."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.courses import service as courses
from tests.helpers import API, Member


def course_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Course {uuid.uuid4().hex[:8]}",
        "description": "Learn by building real things.",
        "price_cents": 35000,
        "currency": "USD",
        "level": "beginner",
        "tags": ["python"],
        "published": True,
    }
    body.update(overrides)
    return body


async def create_course(
    client: httpx.AsyncClient, owner: Member, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/courses", json=course_body(**overrides), headers=owner.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_lesson(
    client: httpx.AsyncClient, owner: Member, course_id: str, position: int, **overrides: Any
) -> dict[str, Any]:
    body = {
        "title": f"Lesson {position}",
        "content": f"Content of lesson {position}.",
        "position": position,
    }
    body.update(overrides)
    response = await client.post(
        f"{API}/courses/{course_id}/lessons", json=body, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def enroll(db: AsyncSession, student: Member, course_id: str) -> None:
    """What a purchase does: the service call that gives a student a course."""
    courses.enroll(db, user_id=uuid.UUID(student.id), course_id=uuid.UUID(course_id))
    await db.commit()


async def walk(
    client: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every item of a listing, following `next_cursor` to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = await client.get(f"{API}{path}", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the listing never ended")
