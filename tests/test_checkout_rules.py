"""Wave 2 rules at checkout: no buying one's own work, no card-derived secret at rest."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.config import Settings
from techtribe.models import Base
from techtribe.purchases.models import IdempotencyKey, Purchase
from tests.catalog import create_course
from tests.helpers import assert_problem, member
from tests.purchasing import buy, card, create_slot, sandbox

NUMBER, CVC = "5555555555554444", "987"


async def test_instructor_buying_their_own_course_is_409_own_item_and_nothing_is_charged(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    charges_before = sandbox(app).charge_count

    response = await buy(client, ana, ("course", course["id"]))

    assert_problem(response, 409, "own_item")
    assert sandbox(app).charge_count == charges_before
    owned = await db.scalar(
        select(func.count()).select_from(Purchase).where(Purchase.user_id == uuid.UUID(ana.id))
    )
    assert owned == 0


async def test_instructor_booking_their_own_slot_is_409_own_item_and_keeps_the_seat(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    other = await member(client, db, role="instructor")
    slot = await create_slot(client, ana)
    others_course = await create_course(client, other)
    charges_before = sandbox(app).charge_count

    # Also when the own slot comes with something they may buy: all or nothing.
    response = await buy(client, ana, ("course", others_course["id"]), ("advisory", slot["id"]))

    assert_problem(response, 409, "own_item")
    assert sandbox(app).charge_count == charges_before
    student = await member(client, db)
    assert (await buy(client, student, ("advisory", slot["id"]))).status_code == 201


def _hmac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


async def test_idempotency_fingerprint_holds_nothing_derived_from_the_number_or_cvc(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    payment = card(NUMBER, cvc=CVC)
    key = f"fp-{uuid.uuid4()}"
    assert (
        await buy(client, student, ("course", course["id"]), key=key, payment=payment)
    ).is_success

    stored = await db.scalar(
        select(IdempotencyKey.request_hash).where(
            IdempotencyKey.user_id == uuid.UUID(student.id), IdempotencyKey.key == key
        )
    )
    secret = settings.jwt_secret.get_secret_value().encode()
    # What the fingerprint is made of: only what may be stored.
    allowed = json.dumps(
        {
            "items": [["course", course["id"]]],
            "card": [
                "mastercard",
                "4444",
                payment["exp_month"],
                payment["exp_year"],
                "Ada Lovelace",
            ],
        },
        separators=(",", ":"),
    )
    assert stored == _hmac(secret, f"{student.id}:{allowed}")
    # The old fingerprint and any plain digest of the digits are nowhere in the database.
    old = json.dumps(
        {
            "items": [["course", course["id"]]],
            "card": [NUMBER, payment["exp_month"], payment["exp_year"], CVC, "Ada Lovelace"],
        },
        separators=(",", ":"),
    )
    derived = {
        _hmac(secret, f"{student.id}:{old}"),
        _hmac(secret, NUMBER),
        _hmac(secret, NUMBER + CVC),
        hashlib.sha256(NUMBER.encode()).hexdigest(),
        hashlib.sha256(CVC.encode()).hexdigest(),
        hashlib.sha256((NUMBER + CVC).encode()).hexdigest(),
    }
    dump = []
    for table in Base.metadata.sorted_tables:
        dump += [repr(tuple(row)) for row in (await db.execute(select(table))).all()]
    everything = "\n".join(dump)
    assert stored in everything  # the dump really holds the row
    for digest in derived:
        assert digest not in everything
        assert digest[:32] not in everything  # nor a prefix (the gateway key's length)
    assert NUMBER not in everything


@pytest.mark.parametrize(
    "change",
    [
        {"holder_name": "Grace Hopper"},
        {"exp_month": 11},
        {"card_number": "4242424242424242"},
    ],
)
async def test_same_key_with_another_card_field_that_may_be_stored_is_409(
    client: httpx.AsyncClient, db: AsyncSession, change: dict[str, object]
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    key = f"fp-{uuid.uuid4()}"
    first = await buy(client, student, ("course", course["id"]), key=key, payment=card(NUMBER))
    assert first.status_code == 201, first.text

    response = await buy(
        client, student, ("course", course["id"]), key=key, payment=card(NUMBER, **change)
    )

    assert_problem(response, 409, "idempotency_conflict")
