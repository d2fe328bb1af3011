"""SIGTERM to real processes: the worker stops quickly when idle and after its job when busy;
the API finishes the requests in flight and takes no new ones.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import make_settings
from tests.faults import needs_postgres_and_redis_server, start_api, start_worker, wait_for
from tests.helpers import API, PASSWORD, unique_email
from tests.mailing import mail_settings, row, settled, smtp_server
from tests.test_email_delivery import add_unqueued_message, body

pytestmark = needs_postgres_and_redis_server

# saq's own warning when it had to cancel work at shutdown.
CANCEL_WARNING = "did not finish within the shutdown grace period"


async def test_an_idle_worker_stops_within_a_few_seconds_of_sigterm(
    migrated: None, db: AsyncSession, tmp_path: Path
) -> None:
    async with smtp_server() as (inbox, port):
        settings = mail_settings(port)
        worker = await start_worker(settings, tmp_path / "worker.log")
        try:
            recipient = unique_email()
            message_id = await add_unqueued_message(db, recipient, "Hello,\n\nStill here.\n")
            assert (await settled(db, message_id)).status == "sent"  # it works, now idle

            worker.process.terminate()
            took = await worker.exited_within(30)
        finally:
            await worker.stop()
    assert took < 10, f"{took:.1f} s to stop"
    assert worker.process.returncode == 0, worker.output
    assert CANCEL_WARNING not in worker.output
    assert len(inbox.to(recipient)) == 1


async def test_a_busy_worker_finishes_its_email_before_it_stops(
    migrated: None, db: AsyncSession, tmp_path: Path
) -> None:
    async with smtp_server() as (inbox, port):
        settings = mail_settings(port, worker_shutdown_timeout_seconds=20)
        recipient = unique_email()
        rule = inbox.hold(recipient)  # the send waits in the SMTP conversation
        worker = await start_worker(settings, tmp_path / "worker.log")
        try:
            message_id = await add_unqueued_message(db, recipient, "Hello,\n\nFinished.\n")
            await wait_for(held(rule.held), seconds=30, what="the send to reach the server")

            worker.process.terminate()
            await asyncio.sleep(1.5)
            assert worker.process.returncode is None, "it quit with a send in flight"
            assert rule.hold is not None
            rule.hold.set()
            took = await worker.exited_within(30)
        finally:
            await worker.stop()
    assert took < 10, f"{took:.1f} s to stop after the send was let through"
    assert worker.process.returncode == 0, worker.output
    [mail] = inbox.to(recipient)
    assert "Finished." in body(mail)
    assert (await row(db, message_id)).status == "sent"


async def test_a_stuck_job_holds_the_worker_no_longer_than_the_shutdown_timeout(
    migrated: None, db: AsyncSession, tmp_path: Path
) -> None:
    async with smtp_server() as (inbox, port):
        settings = mail_settings(port, worker_shutdown_timeout_seconds=2)
        recipient = unique_email()
        rule = inbox.hold(recipient)  # never let through
        worker = await start_worker(settings, tmp_path / "worker.log")
        try:
            message_id = await add_unqueued_message(db, recipient, "Hello,\n\nStuck.\n")
            await wait_for(held(rule.held), seconds=30, what="the send to reach the server")
            started = time.monotonic()
            worker.process.terminate()
            # The send is held forever: without the bound the worker would never exit.
            await worker.exited_within(60)
            took = time.monotonic() - started
        finally:
            await worker.stop()
            assert rule.hold is not None
            rule.hold.set()
    assert took >= 2, f"{took:.1f} s: it didn't give the job its time"
    assert inbox.to(recipient) == []
    stuck = await row(db, message_id)
    # Not sent: it stays pending under its lease, for a later worker.
    assert (stuck.status, stuck.attempts) == ("pending", 1)


async def test_the_api_finishes_requests_in_flight_on_sigterm_and_takes_no_new_ones(
    migrated: None, engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = make_settings()
    api, base = await start_api(settings, tmp_path / "api.log")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http, engine.connect() as lock:
            # Hold the users table: a registration in flight waits on it, visibly.
            await lock.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
            email = unique_email()
            in_flight = asyncio.create_task(
                http.post(
                    f"{API}/auth/register",
                    json={"email": email, "password": PASSWORD, "full_name": "In Flight"},
                )
            )
            await wait_for(lambda: waiting_on_lock(engine), seconds=20, what="the request")

            api.process.terminate()
            await wait_for(lambda: said(api.output, "Shutting down"), seconds=20, what="shutdown")
            with pytest.raises(httpx.TransportError):
                async with httpx.AsyncClient(timeout=5) as fresh:
                    await fresh.get(f"{base}/healthz")
            await lock.rollback()  # let the request in flight go on

            response = await asyncio.wait_for(in_flight, timeout=20)
        assert response.status_code == 201, response.text
        assert response.json()["email"] == email
        await api.exited_within(40)
        # uvicorn ends by re-raising the signal it handled: "terminated by SIGTERM", cleanly.
        assert api.process.returncode in (0, -signal.SIGTERM), api.output
        assert "Application shutdown complete" in api.output
    finally:
        await api.stop()


# --- helpers --------------------------------------------------------------------------


def held(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return event.is_set()

    return check


async def said(output: str, words: str) -> bool:
    return words in output


async def waiting_on_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO users%'"
            )
        )
    return bool(waiting)
