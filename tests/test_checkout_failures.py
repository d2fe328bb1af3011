"""What must never happen at checkout: a card number kept, or money kept for nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from techtribe.courses.models import Enrollment
from techtribe.models import Base
from techtribe.purchases.models import Purchase
from tests.catalog import create_course
from tests.conftest import ON_POSTGRES
from tests.helpers import API, assert_problem, member
from tests.purchasing import buy, card, sandbox

CARD_DIGITS = "5555555555554444"


async def test_card_number_is_in_no_table_no_log_and_no_response(
    client: httpx.AsyncClient, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # SQL statements with their parameters, as DATABASE_ECHO would log them.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    try:
        paid = await buy(
            client, student, ("course", course["id"]), payment=card("5555-5555-5555-4444")
        )
        replayed_bad = await buy(
            client, student, ("course", course["id"]), payment=card(CARD_DIGITS, cvc="1")
        )
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    assert paid.status_code == 201, paid.text
    assert paid.json()["card"] == {"brand": "mastercard", "last4": "4444"}
    assert replayed_bad.status_code == 422
    dump = []
    for table in Base.metadata.sorted_tables:
        rows = (await db.execute(select(table))).all()
        dump += [repr(tuple(row)) for row in rows]
    everything = "\n".join([*dump, caplog.text, paid.text, replayed_bad.text])
    assert "sqlalchemy.engine" in caplog.text  # the SQL log was really captured
    assert student.email in everything  # and the dump really holds this test's data
    for form in (CARD_DIGITS, "5555-5555-5555-4444", "5555 5555 5555 4444"):
        assert form not in everything


@pytest.fixture
async def commit_fails_for_31337_cents(engine: AsyncEngine) -> AsyncIterator[None]:
    """A deferred constraint trigger: purchases of 313.37 fail at COMMIT, nowhere earlier."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE OR REPLACE FUNCTION test_fail_commit() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'forced commit failure'; END $$ LANGUAGE plpgsql"
            )
        )
        await connection.execute(
            text(
                "CREATE CONSTRAINT TRIGGER test_fail_commit AFTER INSERT ON purchases "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.total_cents = 31337) "
                "EXECUTE FUNCTION test_fail_commit()"
            )
        )
    yield
    async with engine.begin() as connection:
        await connection.execute(text("DROP TRIGGER test_fail_commit ON purchases"))
        await connection.execute(text("DROP FUNCTION test_fail_commit()"))


@pytest.mark.skipif(not ON_POSTGRES, reason="deferred constraint triggers are PostgreSQL's")
@pytest.mark.usefixtures("commit_fails_for_31337_cents")
async def test_charge_is_refunded_when_the_purchase_fails_to_commit(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana, price_cents=31337)
    gateway = sandbox(app)
    charges_before, refunds_before = gateway.charge_count, len(gateway.refunds)

    response = await buy(client, student, ("course", course["id"]))

    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"]
    assert gateway.charge_count == charges_before + 1
    charge = gateway.charges[-1]
    assert [(r.charge_id, r.amount_cents) for r in gateway.refunds[refunds_before:]] == [
        (charge.id, 31337)
    ]
    user_id = uuid.UUID(student.id)
    purchases = await db.scalar(
        select(func.count()).select_from(Purchase).where(Purchase.user_id == user_id)
    )
    enrollments = await db.scalar(
        select(func.count()).select_from(Enrollment).where(Enrollment.user_id == user_id)
    )
    assert (purchases, enrollments) == (0, 0)
    lesson_gate = await client.get(f"{API}/users/me/enrollments", headers=student.headers)
    assert lesson_gate.json()["items"] == []
