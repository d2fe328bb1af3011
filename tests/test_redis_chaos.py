"""Chaos: a private Redis killed and started twice while members log in and buy.

Nothing answers 5xx, every login and purchase succeeds, `/readyz` follows Redis, and every
e-mail committed meanwhile (welcomes, receipts) reaches the SMTP server exactly once after
Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.notifications.models import OutboxMessage
from tests.catalog import create_course
from tests.conftest import client_for, private_database
from tests.faults import app_started, needs_postgres_and_redis_server, private_redis, wait_for
from tests.helpers import Member, member, token_request
from tests.mailing import mail_settings, smtp_server, worker_in_loop
from tests.purchasing import buy
from tests.test_redis_outage import outage_lines

pytestmark = needs_postgres_and_redis_server

BUYERS = 4
COURSES = 6


@pytest.fixture
async def own_database() -> AsyncIterator[tuple[str, AsyncSession]]:
    """A database of this test's own (URL, session): its worker sweeps the whole outbox and
    the test wants no error logged, so no other test's e-mail may be in it."""
    async with private_database("techtribe_chaos") as url:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                yield url, session
        finally:
            await engine.dispose()


async def test_logins_and_purchases_succeed_while_redis_dies_and_comes_back(
    own_database: tuple[str, AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    database_url, db = own_database
    caplog.set_level(logging.INFO)
    # SMTPUTF8, as a real mail server has (the members' addresses are ASCII here).
    async with private_redis() as redis, smtp_server(enable_SMTPUTF8=True) as (inbox, port):
        # Sends get 10 s: the SMTP server shares this loop, and a send given up on that the
        # server then accepts goes out twice (delivery is at least once), which is not what
        # this test is about.
        settings = mail_settings(
            port,
            database_url=database_url,
            redis_url=redis.url,
            email_sweep_seconds=1,
            email_send_timeout_seconds=10,
        )
        async with (
            app_started(settings) as app,
            client_for(app) as client,
            worker_in_loop(settings),
        ):
            teacher = await member(client, db, role="instructor")
            courses = [await create_course(client, teacher) for _ in range(COURSES)]
            buyers = [await member(client, db) for _ in range(BUYERS)]
            statuses: Counter[tuple[str, int]] = Counter()
            readiness: list[int] = []
            chaos_over = asyncio.Event()

            async def chaos() -> None:
                for down_seconds in (1.5, 1.0):
                    await asyncio.sleep(0.5)
                    await redis.stop()
                    await asyncio.sleep(down_seconds)
                    readiness.append((await client.get("/readyz")).status_code)
                    await redis.start()
                await wait_for(lambda: ready(client), seconds=30, what="/readyz 200")
                readiness.append(200)
                await asyncio.sleep(1.5)  # logins go on past the throttle's next try
                chaos_over.set()

            async def shop(buyer: Member) -> None:
                for course in courses:
                    response = await buy(client, buyer, ("course", course["id"]))
                    statuses["purchase", response.status_code] += 1
                    await asyncio.sleep(0.3)

            async def log_in(buyer: Member) -> None:
                while not chaos_over.is_set():
                    response = await token_request(
                        client,
                        grant_type="password",
                        username=buyer.email,
                        password=buyer.password,
                    )
                    statuses["login", response.status_code] += 1
                    await asyncio.sleep(0.1)

            started = time.monotonic()
            await asyncio.wait_for(
                asyncio.gather(
                    chaos(), *(shop(b) for b in buyers), *(log_in(b) for b in buyers[:2])
                ),
                timeout=60,
            )
            assert time.monotonic() - started < 60

            assert set(statuses) == {("purchase", 201), ("login", 200)}, statuses
            assert statuses["purchase", 201] == BUYERS * COURSES
            assert statuses["login", 200] >= 10
            assert readiness == [503, 503, 200]

            recipients = [b.email for b in buyers]
            await wait_for(lambda: all_sent(db, recipients), seconds=90, what="every e-mail sent")
            await asyncio.sleep(1.5)  # a duplicate would have time to arrive
        for buyer in buyers:
            mails = [message.as_string() for message in inbox.to(buyer.email)]
            assert len(mails) == 1 + COURSES  # a welcome and one receipt per purchase
            assert len(set(mails)) == len(mails), "an e-mail went out twice"
        # Each outage is logged once per use of Redis, and its end once; no upkeep tracebacks.
        for what in ("login throttle", "job worker"):
            down, back = outage_lines(caplog, what)
            assert 1 <= down == back <= 2, (what, down, back)
        # (saq's own pub/sub listener may log its lost connection; that one is saq's.)
        assert not [
            r
            for r in caplog.records
            if r.levelno >= logging.ERROR
            and (r.name.startswith("techtribe") or r.getMessage().startswith("Upkeep"))
        ]


async def all_sent(db: AsyncSession, recipients: list[str]) -> bool:
    db.expire_all()
    statuses = await db.scalars(
        select(OutboxMessage.status).where(OutboxMessage.recipient.in_(recipients))
    )
    found = list(statuses)
    return len(found) == len(recipients) * (1 + COURSES) and set(found) == {"sent"}


async def ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200
