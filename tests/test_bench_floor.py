"""The benchmark's floor (`bench/floor.py`) stays honest: it sends the service's own catalog
SQL, and its checkout writes what the service's does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench import floor
from techtribe.config import Settings
from techtribe.purchases.payments import sandbox_gateway
from tests.catalog import add_lesson, create_course
from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.helpers import API, member
from tests.purchasing import buy, create_slot, order

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
    client: httpx.AsyncClient,
    db: AsyncSession,
    statements: Statements,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The floor checks the service's cursors as the service does (the same derived key).
    monkeypatch.setenv("FLOOR_JWT_SECRET", settings.jwt_secret.get_secret_value())
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


@pytest.fixture
async def floor_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The floor app in process, on the test database, reading the service's tokens."""
    monkeypatch.setenv("FLOOR_JWT_SECRET", settings.jwt_secret.get_secret_value())
    dsn = DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    monkeypatch.setitem(floor._STATE, "pool", pool)
    gateway = sandbox_gateway(settings)
    monkeypatch.setitem(floor._STATE, "gateway", gateway)
    transport = httpx.ASGITransport(app=floor.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
        yield client
    await gateway.aclose()
    await pool.close()


async def rows_of(db: AsyncSession, user_id: str) -> dict[str, int]:
    """What a buyer's purchases left in each table the checkout writes."""
    counts = await db.execute(
        text(
            "SELECT (SELECT count(*) FROM idempotency_keys WHERE user_id = :u"
            "        AND response_status = 201 AND purchase_id IS NOT NULL),"
            "  (SELECT count(*) FROM purchases WHERE user_id = :u),"
            "  (SELECT count(*) FROM purchase_items i JOIN purchases p ON p.id = i.purchase_id"
            "   WHERE p.user_id = :u),"
            "  (SELECT count(*) FROM revenue_entries r JOIN purchase_items i"
            "   ON i.id = r.purchase_item_id JOIN purchases p ON p.id = i.purchase_id"
            "   WHERE p.user_id = :u),"
            "  (SELECT count(*) FROM enrollments WHERE user_id = :u),"
            "  (SELECT count(*) FROM bookings WHERE user_id = :u),"
            "  (SELECT count(*) FROM outbox WHERE user_id = :u AND kind = 'purchase_receipt')"
        ),
        {"u": uuid.UUID(user_id)},
    )
    names = ("keys", "purchases", "lines", "ledger", "enrollments", "bookings", "receipts")
    return dict(zip(names, counts.one(), strict=True))


async def test_floor_purchase_writes_what_the_service_writes_and_replays_its_answer(
    client: httpx.AsyncClient, db: AsyncSession, floor_client: httpx.AsyncClient
) -> None:
    ana = await member(client, db, role="instructor")
    course, other = await create_course(client, ana), await create_course(client, ana)
    slot = await create_slot(client, ana, capacity=5)
    by_service, by_floor = await member(client, db), await member(client, db)
    body = order(("course", course["id"]), ("advisory", slot["id"]))

    served = await buy(client, by_service, ("course", course["id"]), ("advisory", slot["id"]))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    floored = await floor_client.post(
        f"{API}/purchases", json=body, headers={**by_floor.headers, **key}
    )
    again = await floor_client.post(
        f"{API}/purchases", json=body, headers={**by_floor.headers, **key}
    )
    owned = await floor_client.post(
        f"{API}/purchases",
        json=order(("course", course["id"]), ("course", other["id"])),
        headers={**by_floor.headers, "Idempotency-Key": str(uuid.uuid4())},
    )

    assert served.status_code == floored.status_code == again.status_code == 201, floored.text
    assert again.json() == floored.json()
    assert owned.status_code == 409
    mine, theirs = floored.json(), served.json()
    assert {k: mine[k] for k in ("status", "total_cents", "currency", "card")} == {
        k: theirs[k] for k in ("status", "total_cents", "currency", "card")
    }
    assert mine["items"] == theirs["items"]
    expected = {"keys": 1, "purchases": 1, "lines": 2, "ledger": 2, "enrollments": 1,
                "bookings": 1, "receipts": 1}  # fmt: skip
    assert await rows_of(db, by_service.id) == expected
    assert await rows_of(db, by_floor.id) == expected


async def test_floor_pool_gives_a_connection_back_without_resetting_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asyncpg's default pool sends RESET ALL (and three more statements) on every release: a
    # round trip per request the service's pool doesn't make. A setting a request left on the
    # pool's one connection is still there for the next one only if nothing was sent.
    monkeypatch.setenv("FLOOR_DSN", DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://"))
    monkeypatch.setenv("FLOOR_POOL_MIN", "1")
    monkeypatch.setenv("FLOOR_POOL_MAX", "1")
    monkeypatch.setenv("FLOOR_JWT_SECRET", settings.jwt_secret.get_secret_value())
    state: dict[str, Any] = {}
    incoming: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outgoing: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    lifespan = asyncio.create_task(floor._lifespan(state, incoming.get, outgoing.put))
    await incoming.put({"type": "lifespan.startup"})
    assert (await asyncio.wait_for(outgoing.get(), 10))["type"] == "lifespan.startup.complete"
    try:
        async with state["pool"].acquire() as connection:
            await connection.execute("SET application_name = 'left by the last request'")
        async with state["pool"].acquire() as connection:
            kept = await connection.fetchval("SHOW application_name")
    finally:
        await incoming.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(lifespan, 10)

    assert kept == "left by the last request"
