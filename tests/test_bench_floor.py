"""The benchmark's floor (`bench/floor.py`) stays honest: it sends the service's own SQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from bench import floor
from tests.catalog import add_lesson, create_course
from tests.conftest import ON_POSTGRES
from tests.helpers import API, member

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the floor runs on PostgreSQL")


class Statements:
    """The SQL the app's engine sends, catalog statements only (not the e-mail sender's)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "outbox" not in statement:
            self.sent.append(statement)


@pytest.fixture
def statements(app: FastAPI) -> Iterator[Statements]:
    capture = Statements()
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", capture)
    yield capture
    event.remove(app.state.engine.sync_engine, "before_cursor_execute", capture)


async def test_floor_sends_the_services_sql_for_list_search_cursor_and_detail(
    client: httpx.AsyncClient, db: AsyncSession, statements: Statements
) -> None:
    ana = await member(client, db, role="instructor")
    for _ in range(3):
        course = await create_course(client, ana, level="beginner", tags=["web"])
    await add_lesson(client, ana, course["id"], 1)
    first = (await client.get(f"{API}/courses", params={"limit": 2})).json()
    searched = {"q": "learn", "tag": "web", "level": "beginner", "cursor": first["next_cursor"]}

    for params in ({"limit": "2"}, searched):
        statements.sent.clear()
        response = await client.get(f"{API}/courses", params=params)
        assert response.status_code == 200, response.text
        assert statements.sent == [floor.list_statement(params)[0]]

    statements.sent.clear()
    response = await client.get(f"{API}/courses/{course['id']}")
    assert response.status_code == 200
    assert statements.sent == [floor.BY_ID]
