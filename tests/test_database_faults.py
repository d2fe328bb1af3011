"""Database faults: killed connections and a database that is away answer 503, never 500,
and money stays right (every purchase once, on exactly one live charge)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from techtribe.db import APPLICATION_NAME, database_unavailable
from techtribe.purchases.models import Purchase, PurchaseAttempt, PurchaseItem
from techtribe.purchases.reconcile import reconcile
from tests.catalog import create_course
from tests.conftest import (
    DATABASE_URL,
    ON_POSTGRES,
    PG_ADMIN_DSN,
    client_for,
    make_settings,
    running_app,
)
from tests.helpers import API, Member, assert_problem, member
from tests.purchasing import buy, sandbox

on_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="killing server connections (pg_terminate_backend) is PostgreSQL's"
)


async def kill_service_connections() -> int:
    """Terminates every connection the service (this test's app) holds; how many."""
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()",
            make_url(DATABASE_URL).database,
            APPLICATION_NAME,
        )
    finally:
        await admin.close()
    return len(rows)


def assert_unavailable(response: httpx.Response) -> None:
    body = assert_problem(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert body["request_id"]


@on_postgres
async def test_idle_app_whose_pooled_connections_were_all_killed_answers_200(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    student = await member(client, db)
    # Several pooled connections at once, then idle.
    warm = await asyncio.gather(
        *(client.get(f"{API}/users/me", headers=student.headers) for _ in range(6))
    )
    assert {response.status_code for response in warm} == {200}
    assert await kill_service_connections() >= 2
    await asyncio.sleep(0.2)  # the server's goodbyes reach the idle connections

    for _ in range(8):  # more than were pooled: each dead one would be a first use
        response = await client.get(f"{API}/users/me", headers=student.headers)
        assert response.status_code == 200, response.text
        assert (await client.get(f"{API}/courses")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


@pytest.fixture
async def commit_kills_its_connection(engine: AsyncEngine) -> AsyncIterator[None]:
    """Purchases of 271.82 lose their connection in the middle of COMMIT."""
    name = f"test_die_at_commit_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as connection:
        await connection.execute(
            text(
                f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); "
                "RETURN NULL; END $$ LANGUAGE plpgsql"
            )
        )
        await connection.execute(
            text(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON purchases "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"WHEN (NEW.total_cents = 27182) EXECUTE FUNCTION {name}()"
            )
        )
    yield
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TRIGGER {name} ON purchases"))
        await connection.execute(text(f"DROP FUNCTION {name}()"))


@on_postgres
@pytest.mark.usefixtures("commit_kills_its_connection")
async def test_connection_killed_during_commit_is_503_and_nothing_stays_charged(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=27182)
    gateway = sandbox(app)

    response = await buy(client, student, ("course", course["id"]))

    assert_unavailable(response)
    # The charge was made, then voided: the void recorded first, nothing live is left.
    charge = gateway.charges[-1]
    records = [record for record in await gateway.list_charges() if record.id == charge.id]
    assert [record.live_cents for record in records] == [0]
    voided = await db.scalar(
        select(PurchaseAttempt.charge_id).where(PurchaseAttempt.user_id == uuid.UUID(student.id))
    )
    assert voided == charge.id
    mine = await db.scalar(
        select(func.count()).select_from(Purchase).where(Purchase.user_id == uuid.UUID(student.id))
    )
    assert mine == 0


async def test_a_database_that_is_away_is_503_with_retry_after_and_readyz_503(
    migrated: None,
) -> None:
    with socket.socket() as spare:  # a loopback port where nothing listens
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    settings = make_settings(database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none")
    async for app in running_app(settings):
        async with client_for(app) as client:
            courses = await client.get(f"{API}/courses")
            login = await client.post(
                f"{API}/auth/register",
                json={"email": "away@example.com", "password": "pass-word-1", "full_name": "A"},
            )
            ready = await client.get("/readyz")
    assert_unavailable(courses)
    assert_unavailable(login)
    assert ready.status_code == 503


BUYERS, COURSES, KILL_ROUNDS = 8, 12, 8


@on_postgres
async def test_connection_kills_during_concurrent_purchases_make_no_500_and_no_lost_money(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    courses = [await create_course(client, ana, price_cents=1000 + n) for n in range(COURSES)]
    buyers = [await member(client, db) for _ in range(BUYERS)]
    charged_before = {charge.id for charge in await sandbox(app).list_charges()}
    statuses: Counter[int] = Counter()
    answers: list[httpx.Response] = []
    total = BUYERS * COURSES
    # Kill rounds spread over the run: one each time another ninth of the purchases is done.
    kill_at = {total * (n + 1) // (KILL_ROUNDS + 1) for n in range(KILL_ROUNDS)}
    kills: list[asyncio.Task[int]] = []

    async def purchase(buyer: Member, course_id: str) -> None:
        key = str(uuid.uuid4())
        for _ in range(40):
            response = await buy(client, buyer, ("course", course_id), key=key)
            statuses[response.status_code] += 1
            if response.status_code != 503:
                answers.append(response)
                if len(answers) in kill_at:
                    kills.append(asyncio.create_task(kill_service_connections()))
                return
            assert_unavailable(response)
            await asyncio.sleep(0.02)  # then the same key again, as a client would
        raise AssertionError("still 503 after 40 tries")

    async def shop(buyer: Member) -> None:
        for course in courses:
            await purchase(buyer, course["id"])

    # A guard against a hang: about 5 s alone, 50 s on a 2-core machine at load 30.
    await asyncio.wait_for(asyncio.gather(*(shop(buyer) for buyer in buyers)), timeout=120)
    killed = await asyncio.gather(*kills)

    assert statuses[500] == 0, statuses
    assert len(killed) == KILL_ROUNDS
    assert sum(killed) > 0  # the faults happened
    assert {response.status_code for response in answers} == {201}, statuses
    assert len(answers) == total
    buyer_ids = [uuid.UUID(buyer.id) for buyer in buyers]
    db.expire_all()
    bought = (
        await db.execute(
            select(Purchase.user_id, PurchaseItem.course_id, func.count())
            .join(PurchaseItem, PurchaseItem.purchase_id == Purchase.id)
            .where(Purchase.user_id.in_(buyer_ids))
            .group_by(Purchase.user_id, PurchaseItem.course_id)
        )
    ).all()
    assert len(bought) == BUYERS * COURSES  # every (buyer, course) bought...
    assert {count for *_, count in bought} == {1}  # ...exactly once
    ours = set(await db.scalars(select(Purchase.id).where(Purchase.user_id.in_(buyer_ids))))
    # This test's charges (on PostgreSQL the sandbox's ledger holds earlier tests' too).
    charges = [
        charge for charge in await sandbox(app).list_charges() if charge.id not in charged_before
    ]
    # Exactly one live charge per purchase, of its amount; none for nothing.
    assert sum(1 for charge in charges if charge.live_cents > 0) == len(ours)
    disagreements = [
        found
        for found in await reconcile(db, charges)
        if found.purchase_id is None or found.purchase_id in ours
    ]
    assert disagreements == []
    print(f"kill rounds terminated {killed}; answers {dict(statuses)}")


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (OperationalError("q", {}, sqlite3.OperationalError("database is locked")), True),
        (OperationalError("q", {}, sqlite3.OperationalError("no such table: x")), False),
        (DBAPIError("q", {}, _PgError("57P01")), True),  # admin_shutdown
        (DBAPIError("q", {}, _PgError("08006")), True),  # connection_failure
        (DBAPIError("q", {}, _PgError("P0001")), False),  # a trigger's RAISE: a bug, 500
        (DBAPIError("q", {}, _PgError("23505")), False),  # unique_violation
        (ConnectionRefusedError(), True),
        (ValueError("no"), False),
    ],
)
def test_what_counts_as_the_database_being_away(error: Exception, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable
