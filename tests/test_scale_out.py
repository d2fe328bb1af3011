"""Scale-out: two API processes and two workers on one PostgreSQL database and one Redis.

Real `techtribe serve` and `techtribe worker` processes on loopback ports, a private
`redis-server`, a real SMTP server (aiosmtpd). The cluster is started once and every
process is stopped even on failure. Starting it is most of the cost, so one test runs the
four checks on it in turn (a module fixture would start one cluster per xdist process
that gets a test of the module: xdist's `loadgroup` didn't keep them together here).

Delivery is at least once by design (see `techtribe.notifications.delivery`): a worker
killed after the SMTP server accepted an e-mail and before it marked the row sent leaves
the row to be sent again once its lease runs out, with the same Message-ID. So the e-mail
test proves: nothing lost; no copy for any e-mail that wasn't in flight at the kill; and
any copy is the same message (one Message-ID per recipient).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.advisories.models import Booking
from techtribe.notifications.models import OutboxMessage
from tests.faults import (
    Process,
    needs_postgres_and_redis_server,
    private_redis,
    start_api,
    start_worker,
    wait_for,
)
from tests.helpers import API, PASSWORD, Member, set_role, unique_email
from tests.mailing import Inbox, mail_settings, smtp_server
from tests.purchasing import buy, create_slot

pytestmark = needs_postgres_and_redis_server

EMAILS = 200
SEATS = 3
BUYERS = 12
CONCURRENCY = 20  # requests in flight at once from the test


@dataclass
class Cluster:
    apis: list[str]
    api_processes: list[Process]
    workers: list[Process]
    inbox: Inbox


async def test_two_apis_and_two_workers_behave_as_one_service(
    migrated: None, db: AsyncSession, tmp_path: Path
) -> None:
    async with running_cluster(tmp_path) as cluster:
        await a_logout_on_one_api_is_refused_on_the_other_at_once(cluster)
        await failed_logins_on_both_apis_count_against_one_limit(cluster)
        await racing_buyers_on_both_apis_get_exactly_the_seats_there_are(cluster, db)
        await emails_queued_on_both_apis_arrive_once_while_a_worker_is_killed(cluster, db)


@contextlib.asynccontextmanager
async def running_cluster(logs: Path) -> AsyncIterator[Cluster]:
    processes: list[Process] = []
    async with private_redis() as redis, smtp_server() as (inbox, port):
        # A send may take 4 s, so a killed worker's rows are free again 8 s later (the
        # lease). Shorter, and on a loaded machine a slow but live send outlives its lease.
        # Redis replies get 3 s: on a loaded test machine a slower one would send an API
        # to its per-process fallback, and the shared throttle would not be shared.
        settings = mail_settings(
            port, redis_url=redis.url, email_send_timeout_seconds=4, redis_timeout_seconds=3
        )
        try:
            started = await asyncio.gather(
                start_api(settings, logs / "api-1.log"),
                start_api(settings, logs / "api-2.log"),
                return_exceptions=True,
            )
            processes += [api for api, _ in (s for s in started if isinstance(s, tuple))]
            workers = await asyncio.gather(
                start_worker(settings, logs / "worker-1.log"),
                start_worker(settings, logs / "worker-2.log"),
                return_exceptions=True,
            )
            processes += [w for w in workers if isinstance(w, Process)]
            for outcome in (*started, *workers):
                if isinstance(outcome, BaseException):
                    raise outcome
            apis = [base for _, base in started]  # type: ignore[misc]
            yield Cluster(
                apis, processes[:2], [w for w in workers if isinstance(w, Process)], inbox
            )
        finally:
            await asyncio.gather(*(process.stop() for process in processes))


@contextlib.asynccontextmanager
async def clients(cluster: Cluster) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30))
            for base in cluster.apis
        ]


async def sign_up(http: httpx.AsyncClient, email: str | None = None) -> Member:
    email = email or unique_email()
    response = await http.post(
        f"{API}/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Scale Out"},
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    tokens = await log_in(http, email)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return Member(user_id, email, PASSWORD, body["access_token"], body["refresh_token"])


async def log_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )


async def a_logout_on_one_api_is_refused_on_the_other_at_once(cluster: Cluster) -> None:
    async with clients(cluster) as (one, two):
        user = await sign_up(one)
        assert (await two.get(f"{API}/users/me", headers=user.headers)).status_code == 200

        assert (await one.post(f"{API}/auth/logout", headers=user.headers)).status_code == 204

        refused = await two.get(f"{API}/users/me", headers=user.headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "token_revoked"


async def failed_logins_on_both_apis_count_against_one_limit(cluster: Cluster) -> None:
    async with clients(cluster) as (one, two):
        user = await sign_up(one)
        for attempt in range(5):  # LOGIN_MAX_FAILURES_PER_ACCOUNT's default, spread
            wrong = await log_in((one, two)[attempt % 2], user.email, "wrong-pass-1")
            assert wrong.status_code == 400, wrong.text
        for http in (one, two):
            throttled = await log_in(http, user.email)
            assert throttled.status_code == 429, (throttled.text, fallbacks(cluster))
            assert throttled.headers["retry-after"].isdigit()


async def racing_buyers_on_both_apis_get_exactly_the_seats_there_are(
    cluster: Cluster, db: AsyncSession
) -> None:
    async with clients(cluster) as (one, two):
        owner = await sign_up(one)
        await set_role(db, owner.id, "instructor")
        slot = await create_slot(one, owner, capacity=SEATS)
        buyers = await asyncio.gather(*(sign_up((one, two)[i % 2]) for i in range(BUYERS)))

        answers = await asyncio.gather(
            *(buy((one, two)[i % 2], b, ("advisory", slot["id"])) for i, b in enumerate(buyers))
        )

    codes = Counter(answer.status_code for answer in answers)
    assert codes == {201: SEATS, 409: BUYERS - SEATS}, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"sold_out"}
    bookings = await db.scalar(
        select(func.count()).select_from(Booking).where(Booking.slot_id == uuid.UUID(slot["id"]))
    )
    assert bookings == SEATS


async def emails_queued_on_both_apis_arrive_once_while_a_worker_is_killed(
    cluster: Cluster, db: AsyncSession
) -> None:
    batch = uuid.uuid4().hex[:8]
    recipients = [f"mass-{batch}-{n}@example.com" for n in range(EMAILS)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async with clients(cluster) as apis:

        async def register(n: int) -> int:
            async with gate:
                response = await apis[n % 2].post(
                    f"{API}/auth/register",
                    json={"email": recipients[n], "password": PASSWORD, "full_name": "Mass"},
                )
                return response.status_code

        registering = asyncio.gather(*(register(n) for n in range(EMAILS)))

        async def half_delivered() -> bool:
            return len(delivered(cluster.inbox, batch)) >= EMAILS // 2

        await wait_for(half_delivered, seconds=120, what="half of the e-mails")
        victim = cluster.workers[0].process
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        in_flight_at_kill = await claimed_not_sent(db, recipients)

        assert Counter(await registering) == {201: EMAILS}

    async def all_sent() -> bool:
        db.expire_all()
        statuses = await db.scalars(
            select(OutboxMessage.status).where(OutboxMessage.recipient.in_(recipients))
        )
        return Counter(statuses) == {"sent": EMAILS}

    await wait_for(all_sent, seconds=120, what="every e-mail marked sent")
    await asyncio.sleep(1)  # a late copy would arrive now
    copies = Counter(message["To"] for message in delivered(cluster.inbox, batch))
    assert set(copies) == set(recipients), "an e-mail was lost"
    doubled = {to for to, count in copies.items() if count > 1}
    # Only a send the killed worker had in flight may go out again, and as the same e-mail.
    assert doubled <= in_flight_at_kill, doubled - in_flight_at_kill
    for to in doubled:
        ids = {m["Message-ID"] for m in cluster.inbox.to(to)}
        assert len(ids) == 1, ids


def fallbacks(cluster: Cluster) -> list[str]:
    """Lines of the APIs' logs saying they went on without Redis (for failure messages)."""
    return [
        line for api in cluster.api_processes for line in api.output.splitlines() if "Redis" in line
    ]


def delivered(inbox: Inbox, batch: str) -> list[object]:
    return [m for m in inbox.messages if f"mass-{batch}-" in str(m["To"])]


async def claimed_not_sent(db: AsyncSession, recipients: list[str]) -> set[str]:
    """Recipients whose row a sender claimed but didn't mark sent: sends in flight."""
    db.expire_all()
    rows = await db.scalars(
        select(OutboxMessage.recipient).where(
            OutboxMessage.recipient.in_(recipients),
            OutboxMessage.status == "pending",
            OutboxMessage.attempts > 0,
        )
    )
    return set(rows)
