"""A Redis outage: everything but the queue keeps working, and the queue catches up after.

A private `redis-server` is killed and started again under the app; a TCP server that never
answers plays a Redis that hangs.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import client_for, make_settings, running_app
from tests.faults import needs_postgres_and_redis_server, private_redis, silent_server, wait_for
from tests.helpers import (
    API,
    PASSWORD,
    assert_oauth_error,
    login,
    outbox_for,
    refresh,
    register,
    token_request,
)
from tests.mailing import mail_settings, settled, smtp_server, worker_in_loop

pytestmark = needs_postgres_and_redis_server

LIMIT = 3


def outage_lines(caplog: pytest.LogCaptureFixture, what: str) -> tuple[int, int]:
    """(times the outage of `what` was logged, times its end was)."""
    messages = [r.getMessage() for r in caplog.records if r.name == "techtribe.redis"]
    down = sum(f"unreachable for the {what}" in m for m in messages)
    back = sum(m.startswith(f"Redis answers again: the {what}") for m in messages)
    return down, back


async def wrong(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await token_request(client, grant_type="password", username=email, password="wrong-1x")


async def test_logins_keep_working_while_redis_is_down_throttled_per_process(
    migrated: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="techtribe.redis")
    async with private_redis() as redis:
        settings = make_settings(redis_url=redis.url, login_max_failures_per_account=LIMIT)
        async for app in running_app(settings):
            async with client_for(app) as client:
                user = await register(client)
                before = await login(client, user["email"])
                await redis.stop()

                tokens = await login(client, user["email"])
                assert (await refresh(client, before["refresh_token"])).status_code == 200
                assert (await register(client))["id"]
                me = await client.get(f"{API}/users/me", headers=bearer(tokens))
                assert me.status_code == 200, me.text
                # The same limit, counted in this process meanwhile.
                for _ in range(LIMIT):
                    assert_oauth_error(await wrong(client, user["email"]), "invalid_grant")
                throttled = await login_response(client, user["email"])
                assert throttled.status_code == 429, throttled.text
                assert throttled.headers["retry-after"].isdigit()
                assert (await client.get("/readyz")).status_code == 503
                assert outage_lines(caplog, "login throttle") == (1, 0)

                await redis.start()  # empty: the failures counted in Redis are gone
                await wait_for(lambda: ready(client), seconds=30, what="/readyz to say 200")
                await asyncio.sleep(1.2)  # the next try of Redis comes at most 1 s later
                other = await register(client)
                assert (await login_response(client, other["email"])).status_code == 200
                assert outage_lines(caplog, "login throttle") == (1, 1)
                # Back on Redis: its counts are what the limit reads again.
                for _ in range(LIMIT):
                    assert_oauth_error(await wrong(client, other["email"]), "invalid_grant")
                assert (await login_response(client, other["email"])).status_code == 429
                keys = await app.state.redis.keys(f"{settings.redis_key_prefix}:login*")
                assert keys


async def test_emails_committed_while_redis_is_down_go_out_once_it_is_back(
    migrated: None, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="techtribe.redis")
    async with private_redis() as redis, smtp_server() as (inbox, port):
        settings = mail_settings(port, redis_url=redis.url, email_sweep_seconds=1)
        async for app in running_app(settings):
            async with client_for(app) as client:
                await redis.stop()
                started = time.monotonic()
                users = [await register(client) for _ in range(3)]
                assert time.monotonic() - started < 10
                assert outage_lines(caplog, "e-mail queue") == (1, 0)
                for user in users:
                    [message] = await outbox_for(db, user["email"], "welcome")
                    assert message.status == "pending"

                # A worker that starts while Redis is down waits for it, then catches up.
                async with worker_in_loop(settings):
                    await asyncio.sleep(1)
                    await redis.start()
                    for user in users:
                        [message] = await outbox_for(db, user["email"], "welcome")
                        assert (await settled(db, message.id)).status == "sent"
                for user in users:
                    assert len(inbox.to(user["email"])) == 1


async def test_a_redis_that_hangs_costs_a_login_a_bounded_time_never_a_500(
    migrated: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="techtribe.redis")
    async with silent_server() as url:
        settings = make_settings(redis_url=url, redis_timeout_seconds=0.5)
        async for app in running_app(settings):
            async with client_for(app) as client:
                for _ in range(3):
                    started = time.monotonic()
                    user = await register(client)
                    tokens = await login(client, user["email"])
                    assert_oauth_error(await wrong(client, user["email"]), "invalid_grant")
                    assert (await refresh(client, tokens["refresh_token"])).status_code == 200
                    # Four requests, the first ones waiting out the timeout once each.
                    assert time.monotonic() - started < 6
                started = time.monotonic()
                ready_response = await client.get("/readyz")
                assert ready_response.status_code == 503
                assert ready_response.json()["checks"]["redis"].startswith("error")
                assert time.monotonic() - started < 3
    assert outage_lines(caplog, "login throttle")[0] == 1
    assert outage_lines(caplog, "e-mail queue")[0] == 1


async def test_a_paused_redis_server_answers_logins_within_the_bound(migrated: None) -> None:
    async with private_redis() as redis:
        settings = make_settings(redis_url=redis.url)  # the default timeout
        async for app in running_app(settings):
            async with client_for(app) as client:
                user = await register(client)
                redis.pause()
                try:
                    for _ in range(3):
                        started = time.monotonic()
                        response = await login_response(client, user["email"])
                        assert response.status_code == 200, response.text
                        assert time.monotonic() - started < 3
                    assert (await client.get("/readyz")).status_code == 503
                finally:
                    redis.resume()
                await wait_for(lambda: ready(client), seconds=30, what="/readyz to say 200")


# --- helpers --------------------------------------------------------------------------


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def login_response(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await token_request(client, grant_type="password", username=email, password=PASSWORD)


async def ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200
