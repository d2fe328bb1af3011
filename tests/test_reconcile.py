"""`techtribe reconcile`: every disagreement between purchases and the gateway's charges."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.types import Receive, Scope, Send

from techtribe.config import Settings
from techtribe.purchases.cards import CardIn
from techtribe.purchases.models import Purchase, PurchaseAttempt
from techtribe.purchases.payments import make_gateway
from techtribe.purchases.reconcile import reconcile
from tests.catalog import create_course
from tests.conftest import (
    ON_POSTGRES,
    client_for,
    make_settings,
    private_database,
    running_app,
)
from tests.fake_stripe import SECRET_KEY, FakeStripeServer
from tests.helpers import API, Member, member
from tests.purchasing import buy, card, sandbox


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    """A database of its own, migrated: reconcile looks at every purchase in it."""
    async with private_database("techtribe_rec") as url:
        yield url


@pytest.fixture
async def scratch(scratch_url: str) -> AsyncIterator[AsyncSession]:
    engine: AsyncEngine = create_async_engine(scratch_url, poolclass=NullPool)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await engine.dispose()


@pytest.fixture
async def stripe_url(stripe: FakeStripeServer) -> AsyncIterator[str]:
    """The fake Stripe over real HTTP on a loopback port, for the command's own process."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = scope["query_string"].decode()
        request = httpx.Request(
            scope["method"],
            f"http://gateway.test{scope['path']}" + (f"?{query}" if query else ""),
            headers=[(name.decode(), value.decode()) for name, value in scope["headers"]],
            content=body,
        )
        response = stripe(request)
        headers = [(name.encode(), value.encode()) for name, value in response.headers.items()]
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": response.content})

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound before serving: the port is known at once
    config = uvicorn.Config(serve, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = server.force_exit = True
    await asyncio.wait_for(task, timeout=10)
    listener.close()


@pytest.fixture
def stripe() -> FakeStripeServer:
    return FakeStripeServer()


def gateway_settings(database_url: str, gateway_url: str) -> Settings:
    return make_settings(
        database_url=database_url,
        payment_gateway="http",
        payment_gateway_url=gateway_url,
        payment_gateway_secret_key=SECRET_KEY,
        redis_url=None,
    )


async def run_reconcile(settings: Settings) -> tuple[int, list[list[str]], str]:
    """`techtribe reconcile` as a real process: exit status, stdout lines split, stderr."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": settings.database_url,
        "ENVIRONMENT": "test",
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "PAYMENT_GATEWAY": settings.payment_gateway,
        "PAYMENT_GATEWAY_URL": settings.payment_gateway_url,
        "PAYMENT_GATEWAY_SECRET_KEY": SECRET_KEY,
    }
    with tempfile.TemporaryDirectory() as cwd:  # no stray .env
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "techtribe"),
            "reconcile",
            env=env,
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    lines = [line.split("\t") for line in out.decode().splitlines()]
    return process.returncode, lines, err.decode()


async def purchase(client: httpx.AsyncClient, buyer: Member, course_id: str) -> uuid.UUID:
    response = await buy(client, buyer, ("course", course_id))
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def test_reconcile_with_the_http_gateway_is_clean_then_lists_each_disagreement(
    scratch_url: str, scratch: AsyncSession, stripe: FakeStripeServer, stripe_url: str
) -> None:
    settings = gateway_settings(scratch_url, stripe_url)
    async for app in running_app(settings):
        app.state.payment_gateway = make_gateway(settings, transport=stripe.transport())
        async with client_for(app) as client:
            ana = await member(client, scratch, role="instructor")
            admin = await member(client, scratch, role="admin")
            student = await member(client, scratch)
            courses = [await create_course(client, ana, price_cents=2000 + n) for n in range(5)]
            bought = [await purchase(client, student, course["id"]) for course in courses]
            refunded = await client.post(
                f"{API}/purchases/{bought[4]}/refund", headers=admin.headers
            )
            assert refunded.status_code == 200, refunded.text
        gateway = app.state.payment_gateway

        # Clean so far (checked in process: the command's own run comes below).
        assert await reconcile(scratch, await gateway.list_charges()) == []

        rows = await scratch.execute(
            select(Purchase.id, Purchase.gateway_charge_id).where(Purchase.id.in_(bought))
        )
        charge_of = dict(rows.all())
        await gateway.refund(charge_id=charge_of[bought[0]], idempotency_key="by-hand-0")
        await scratch.execute(
            update(Purchase).where(Purchase.id == bought[1]).values(status="refunded")
        )
        await scratch.execute(
            update(Purchase).where(Purchase.id == bought[2]).values(total_cents=1)
        )
        await scratch.execute(
            update(Purchase).where(Purchase.id == bought[3]).values(gateway_charge_id="ch_gone")
        )
        await scratch.commit()
        stray = await gateway.charge(
            amount_cents=777,
            currency="USD",
            card=CardIn.model_validate(card()),
            idempotency_key="stray",
            description="not a purchase",
        )

        status, lines, err = await run_reconcile(settings)

    assert status == 1, err
    assert all(len(line) == 4 for line in lines)
    found = {(kind, purchase_id, charge_id) for kind, purchase_id, charge_id, _ in lines}
    assert found == {
        ("paid_but_charge_not_live", f"purchase={bought[0]}", f"charge={charge_of[bought[0]]}"),
        ("refunded_but_charge_live", f"purchase={bought[1]}", f"charge={charge_of[bought[1]]}"),
        ("amount_mismatch", f"purchase={bought[2]}", f"charge={charge_of[bought[2]]}"),
        ("charge_missing", f"purchase={bought[3]}", "charge=ch_gone"),
        ("charge_without_purchase", "purchase=-", f"charge={charge_of[bought[3]]}"),
        ("charge_without_purchase", "purchase=-", f"charge={stray.id}"),
    }
    assert "6 disagreement(s)" in err


async def test_reconcile_with_the_sandbox_finds_a_paid_purchase_on_a_voided_charge(
    scratch_url: str, scratch: AsyncSession
) -> None:
    settings = make_settings(database_url=scratch_url, redis_url=None)
    async for app in running_app(settings):
        async with client_for(app) as client:
            ana = await member(client, scratch, role="instructor")
            student = await member(client, scratch)
            first, second = [await create_course(client, ana) for _ in range(2)]
            kept = await purchase(client, student, first["id"])
            broken = await purchase(client, student, second["id"])
        gateway = sandbox(app)
        assert await reconcile(scratch, await gateway.list_charges()) == []

        # What the issue saw: a paid purchase left on a charge the service had voided.
        charge_id = await scratch.scalar(
            select(Purchase.gateway_charge_id).where(Purchase.id == broken)
        )
        assert charge_id is not None
        scratch.add(
            PurchaseAttempt(
                user_id=uuid.UUID(student.id),
                key="k",
                charge_id=charge_id,
                amount_cents=4900,
                currency="USD",
            )
        )
        await scratch.commit()
        await gateway.refund(charge_id=charge_id, idempotency_key=f"void-{charge_id}")

        in_process = await reconcile(scratch, await gateway.list_charges())
        status, lines, err = await run_reconcile(settings)

    assert [(found.kind, found.purchase_id) for found in in_process] == [
        ("paid_on_voided_charge", broken)
    ]
    assert kept not in {found.purchase_id for found in in_process}
    assert status == 1, err
    if not ON_POSTGRES:
        assert "sandbox" in err  # says what it could not check (charges in memory)
    assert [line[:2] for line in lines] == [["paid_on_voided_charge", f"purchase={broken}"]]


@pytest.mark.skipif(not ON_POSTGRES, reason="the sandbox's ledger is in the database on PostgreSQL")
async def test_reconcile_process_reads_the_sandbox_ledger_clean_then_each_disagreement(
    scratch_url: str, scratch: AsyncSession
) -> None:
    settings = make_settings(database_url=scratch_url, redis_url=None)
    async for app in running_app(settings):
        async with client_for(app) as client:
            ana = await member(client, scratch, role="instructor")
            admin = await member(client, scratch, role="admin")
            student = await member(client, scratch)
            courses = [await create_course(client, ana, price_cents=3000 + n) for n in range(3)]
            bought = [await purchase(client, student, course["id"]) for course in courses]
            refunded = await client.post(
                f"{API}/purchases/{bought[2]}/refund", headers=admin.headers
            )
            assert refunded.status_code == 200, refunded.text

        clean_status, clean_lines, clean_err = await run_reconcile(settings)

        # Another process's sandbox (the same ledger): a refund by hand, and a stray charge.
        other = make_gateway(settings)
        try:
            charge_id = await scratch.scalar(
                select(Purchase.gateway_charge_id).where(Purchase.id == bought[0])
            )
            assert charge_id is not None
            await other.refund(charge_id=charge_id, idempotency_key="by-hand")
            stray = await other.charge(
                amount_cents=777,
                currency="USD",
                card=CardIn.model_validate(card()),
                idempotency_key="stray",
                description="not a purchase",
            )
        finally:
            await other.aclose()
        status, lines, err = await run_reconcile(settings)

    assert clean_status == 0, clean_err
    assert clean_lines == []
    assert "(3 charges at the gateway)" in clean_err
    assert status == 1, err
    assert {(kind, purchase_id, charge) for kind, purchase_id, charge, _ in lines} == {
        ("paid_but_charge_not_live", f"purchase={bought[0]}", f"charge={charge_id}"),
        ("charge_without_purchase", "purchase=-", f"charge={stray.id}"),
    }
