"""The benchmark's stack (`bench/stack.py`) stays honest: on the pages it serves, it answers
what the service answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bench import stack
from techtribe.config import Settings
from tests.catalog import add_lesson, create_course
from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.helpers import API, member

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the stack runs on PostgreSQL")


@pytest.fixture
async def stack_client(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """The stack's app in process, on the test database, signing cursors as the service does."""
    monkeypatch.setenv("STACK_DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("STACK_JWT_SECRET", settings.jwt_secret.get_secret_value())
    monkeypatch.setenv("STACK_POOL_SIZE", "2")
    # A server's collector settings would stay with the test process for good.
    monkeypatch.setattr(stack, "settle_collector", lambda: None)
    app = stack.create()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stack") as client:
        yield client
    await app.state.engine.dispose()


async def test_stack_answers_the_services_list_next_page_and_course_page_and_404_otherwise(
    client: httpx.AsyncClient, db: AsyncSession, stack_client: httpx.AsyncClient
) -> None:
    ana = await member(client, db, role="instructor")
    courses = [await create_course(client, ana, tags=["web", "async"]) for _ in range(22)]
    await add_lesson(client, ana, courses[0]["id"], 1)
    first = await client.get(f"{API}/courses")
    cursor = {"cursor": first.json()["next_cursor"]}
    next_page = await client.get(f"{API}/courses", params=cursor)
    course_page = await client.get(f"{API}/courses/{courses[0]['id']}")

    by_stack = [
        await stack_client.get(f"{API}/courses"),
        await stack_client.get(f"{API}/courses", params=cursor),
        await stack_client.get(f"{API}/courses/{courses[0]['id']}"),
    ]
    unknown = await stack_client.get(f"{API}/courses/{uuid.uuid4()}")

    for served, stacked in zip((first, next_page, course_page), by_stack, strict=True):
        assert served.status_code == stacked.status_code == 200, stacked.text
        assert stacked.json() == served.json()
    on_first = {item["id"] for item in first.json()["items"]}
    assert next_page.json()["items"][0]["id"] not in on_first  # the cursor's page is the next
    assert course_page.json()["lessons"]  # the course page carries its outline
    assert unknown.status_code == 404
