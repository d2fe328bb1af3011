"""Money under database faults: a purchase is `paid` only on a live charge, never a voided one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from techtribe.config import Settings
from techtribe.purchases import refunds
from techtribe.purchases.models import Purchase, PurchaseAttempt
from techtribe.purchases.payments import make_gateway
from techtribe.purchases.reconcile import reconcile
from tests.catalog import create_course
from tests.conftest import ON_POSTGRES, client_for, make_settings, running_app
from tests.fake_stripe import SECRET_KEY, FakeStripeServer
from tests.helpers import API, Member, assert_problem, member, outbox_for
from tests.purchasing import buy, sandbox

on_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="a COMMIT that fails on demand needs PostgreSQL's deferred triggers"
)

FAILING_PRICE = 31337


@pytest.fixture
async def failing_commit(engine: AsyncEngine) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Purchases of 313.37 fail at COMMIT (a deferred constraint trigger) until lifted."""
    name = f"test_fail_commit_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as connection:
        await connection.execute(
            text(
                f"CREATE FUNCTION {name}() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'forced commit failure'; END $$ LANGUAGE plpgsql"
            )
        )
        await connection.execute(
            text(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT ON purchases "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"WHEN (NEW.total_cents = {FAILING_PRICE}) EXECUTE FUNCTION {name}()"
            )
        )

    async def lift() -> None:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON purchases"))

    yield lift
    await lift()
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP FUNCTION {name}()"))


async def _fail_retry_refund(
    client: httpx.AsyncClient,
    db: AsyncSession,
    lift: Callable[[], Awaitable[None]],
) -> tuple[str, str]:
    """The issue's case through HTTP: commit fails, fault lifted, same key again, refund.

    Returns the charge ids of the purchase's retry and of the paid purchase.
    """
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=FAILING_PRICE)
    key = str(uuid.uuid4())

    failed = await buy(client, student, ("course", course["id"]), key=key)
    assert_problem(failed, 500, "internal_error")
    await lift()
    retried = await buy(client, student, ("course", course["id"]), key=key)
    assert retried.status_code == 201, retried.text
    assert retried.json()["status"] == "paid"
    replayed = await buy(client, student, ("course", course["id"]), key=key)
    assert replayed.json() == retried.json()

    purchase_id = retried.json()["id"]
    db.expire_all()
    charge_id = await db.scalar(
        select(Purchase.gateway_charge_id).where(Purchase.id == uuid.UUID(purchase_id))
    )
    voided = await db.scalar(
        select(PurchaseAttempt.charge_id).where(PurchaseAttempt.user_id == uuid.UUID(student.id))
    )
    assert charge_id is not None
    assert voided is not None
    assert charge_id != voided

    refund = await client.post(f"{API}/purchases/{purchase_id}/refund", headers=admin.headers)
    assert refund.status_code == 200, refund.text
    assert refund.json()["status"] == "refunded"
    return voided, charge_id


@on_postgres
async def test_retry_after_a_failed_commit_charges_anew_and_the_refund_works(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: AsyncSession,
    failing_commit: Callable[[], Awaitable[None]],
) -> None:
    gateway = sandbox(app)
    charges_before = gateway.charge_count

    voided, paid_with = await _fail_retry_refund(client, db, failing_commit)

    # Two charges: the voided one and the new one; each refunded once, in full.
    assert [charge.id for charge in gateway.charges[charges_before:]] == [voided, paid_with]
    records = {record.id: record for record in await gateway.list_charges()}
    assert records[voided].live_cents == 0
    assert records[paid_with].live_cents == 0
    refunded = [(refund.charge_id, refund.amount_cents) for refund in gateway.refunds]
    assert refunded.count((voided, FAILING_PRICE)) == 1
    assert refunded.count((paid_with, FAILING_PRICE)) == 1


@pytest.fixture
async def stripe() -> FakeStripeServer:
    return FakeStripeServer()


def http_gateway_settings() -> Settings:
    return make_settings(
        payment_gateway="http",
        payment_gateway_url="https://gateway.test",
        payment_gateway_secret_key=SECRET_KEY,
    )


@pytest.fixture
async def http_app(migrated: None, stripe: FakeStripeServer) -> AsyncIterator[FastAPI]:
    """The app on the HTTP gateway, whose network is the fake Stripe."""
    settings = http_gateway_settings()
    async for app in running_app(settings):
        await app.state.payment_gateway.aclose()
        app.state.payment_gateway = make_gateway(settings, transport=stripe.transport())
        yield app


@on_postgres
async def test_http_gateway_retry_after_a_failed_commit_charges_anew(
    http_app: FastAPI,
    db: AsyncSession,
    stripe: FakeStripeServer,
    failing_commit: Callable[[], Awaitable[None]],
) -> None:
    async with client_for(http_app) as client:
        voided, paid_with = await _fail_retry_refund(client, db, failing_commit)

    assert set(stripe.charges) >= {voided, paid_with}
    assert stripe.charges[voided]["refunded"] is True
    assert stripe.charges[paid_with]["refunded"] is True
    keys = [
        request.headers["Idempotency-Key"]
        for request in stripe.requests
        if request.method == "POST" and request.url.path == "/v1/charges"
    ]
    assert len(keys) == 2
    assert keys[0] != keys[1]  # the attempt after a void has its own gateway key


async def test_gateway_timeout_retry_keeps_the_gateway_key_and_charges_once(
    http_app: FastAPI, db: AsyncSession, stripe: FakeStripeServer
) -> None:
    """No void happened: a retry of the same key is the same attempt, charged at most once."""
    answers = iter([httpx.ReadTimeout("lost")] * 3)
    real = stripe.__call__

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/charges":
            reply = next(answers, None)
            if reply is not None:
                real(request)  # the gateway charged, but the answer is lost
                raise reply
        return real(request)

    settings = http_gateway_settings()
    http_app.state.payment_gateway = make_gateway(settings, transport=httpx.MockTransport(flaky))
    http_app.state.payment_gateway._sleep = _no_sleep  # type: ignore[attr-defined]
    async with client_for(http_app) as client:
        ana = await member(client, db, role="instructor")
        student = await member(client, db)
        course = await create_course(client, ana, price_cents=2500)
        key = str(uuid.uuid4())
        timed_out = await buy(client, student, ("course", course["id"]), key=key)
        assert_problem(timed_out, 504, "payment_gateway_timeout")
        retried = await buy(client, student, ("course", course["id"]), key=key)
    assert retried.status_code == 201, retried.text
    assert len(stripe.charges) == 1
    db.expire_all()
    charge_id = await db.scalar(
        select(Purchase.gateway_charge_id).where(Purchase.id == uuid.UUID(retried.json()["id"]))
    )
    assert list(stripe.live()) == [charge_id]
    attempts = await db.scalar(
        select(func.count())
        .select_from(PurchaseAttempt)
        .where(PurchaseAttempt.user_id == uuid.UUID(student.id))
    )
    assert attempts == 0  # nothing was voided: the retry was the same attempt


async def _no_sleep(_seconds: float) -> None:
    return None


REFUND_FAILING_PRICE = 27183


@pytest.fixture
async def failing_refund_commit(
    engine: AsyncEngine,
) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Refunds of purchases of 271.83 fail at COMMIT (a deferred constraint trigger): the
    next `times` such commits, counted across transactions by a sequence."""
    name = f"test_fail_refund_{uuid.uuid4().hex[:8]}"

    async def fail(times: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON purchases"))
            await connection.execute(text(f"DROP SEQUENCE IF EXISTS {name}"))
            await connection.execute(text(f"CREATE SEQUENCE {name}"))
            await connection.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    f"IF nextval('{name}') <= {times} THEN "
                    "RAISE EXCEPTION 'forced refund commit failure'; END IF; "
                    "RETURN NULL; END $$ LANGUAGE plpgsql"
                )
            )
            await connection.execute(
                text(
                    f"CREATE CONSTRAINT TRIGGER {name} AFTER UPDATE ON purchases "
                    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN "
                    f"(NEW.status = 'refunded' AND NEW.total_cents = {REFUND_FAILING_PRICE}) "
                    f"EXECUTE FUNCTION {name}()"
                )
            )

    yield fail
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON purchases"))
        await connection.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
        await connection.execute(text(f"DROP SEQUENCE IF EXISTS {name}"))


async def _paid_purchase(
    client: httpx.AsyncClient, db: AsyncSession
) -> tuple[Member, Member, str, str]:
    """A paid purchase of a 271.83 course: (admin, buyer, purchase id, charge id)."""
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=REFUND_FAILING_PRICE)
    bought = await buy(client, student, ("course", course["id"]))
    assert bought.status_code == 201, bought.text
    charge_id = await db.scalar(
        select(Purchase.gateway_charge_id).where(Purchase.id == uuid.UUID(bought.json()["id"]))
    )
    assert charge_id is not None
    await db.rollback()  # holds no lock on purchases: the trigger is dropped and created
    return admin, student, bought.json()["id"], charge_id


async def _state(
    db: AsyncSession, app: FastAPI, buyer: Member, purchase_id: str, charge_id: str
) -> tuple[str | None, int, int, list[str]]:
    """(purchase status, live cents of its charge, refunds of it at the gateway, what
    reconcile says of it)."""
    db.expire_all()
    status = await db.scalar(select(Purchase.status).where(Purchase.id == uuid.UUID(purchase_id)))
    gateway = sandbox(app)
    charges = await gateway.list_charges()
    live = next(charge.live_cents for charge in charges if charge.id == charge_id)
    refunds = sum(1 for refund in gateway.refunds if refund.charge_id == charge_id)
    found = [
        item.kind
        for item in await reconcile(db, charges)
        if item.purchase_id == uuid.UUID(purchase_id) or item.charge_id == charge_id
    ]
    await db.rollback()  # holds no lock on purchases: the trigger is dropped and created
    return status, live, refunds, found


@on_postgres
async def test_refund_whose_commit_fails_is_recorded_anew_and_reads_refunded(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: AsyncSession,
    failing_refund_commit: Callable[[int], Awaitable[None]],
) -> None:
    admin, student, purchase_id, charge_id = await _paid_purchase(client, db)
    await failing_refund_commit(1)
    path = f"{API}/purchases/{purchase_id}/refund"

    refunded = await client.post(path, headers=admin.headers)

    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded"
    assert await _state(db, app, student, purchase_id, charge_id) == ("refunded", 0, 1, [])
    mine = await client.get(f"{API}/users/me/enrollments", headers=student.headers)
    assert mine.json()["items"] == []  # what it granted was withdrawn
    assert len(await outbox_for(db, student.email, "purchase_refunded")) == 1
    assert_problem(await client.post(path, headers=admin.headers), 409, "already_refunded")
    assert await _state(db, app, student, purchase_id, charge_id) == ("refunded", 0, 1, [])


@on_postgres
async def test_refund_that_cannot_be_recorded_answers_an_error_and_a_retry_converges(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: AsyncSession,
    failing_refund_commit: Callable[[int], Awaitable[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(refunds, "SETTLE_PAUSES", (0.0, 0.05, 0.05))
    admin, student, purchase_id, charge_id = await _paid_purchase(client, db)
    await failing_refund_commit(1_000_000)
    path = f"{API}/purchases/{purchase_id}/refund"

    assert_problem(await client.post(path, headers=admin.headers), 500, "internal_error")
    # The one window left: the gateway refunded, the database refused every record of it.
    failed = await _state(db, app, student, purchase_id, charge_id)
    assert failed == ("paid", 0, 1, ["paid_but_charge_not_live"])

    await failing_refund_commit(0)  # the fault is gone
    retried = await client.post(path, headers=admin.headers)
    assert retried.status_code == 200, retried.text
    assert_problem(await client.post(path, headers=admin.headers), 409, "already_refunded")
    # The same refund at the gateway (its key is fixed): still one; reconcile is clean.
    assert await _state(db, app, student, purchase_id, charge_id) == ("refunded", 0, 1, [])
