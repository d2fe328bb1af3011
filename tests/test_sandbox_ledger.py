"""The sandbox's ledger in the database: two processes' sandboxes are one provider."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from techtribe.purchases.cards import CardIn
from techtribe.purchases.payments import (
    AlreadyRefunded,
    CardDeclined,
    IdempotencyKeyReused,
    SandboxGateway,
    sandbox_gateway,
)
from tests.conftest import ON_POSTGRES, make_settings
from tests.purchasing import DECLINED_CARD, card

pytestmark = pytest.mark.skipif(
    not ON_POSTGRES, reason="the sandbox's ledger is in the database on PostgreSQL only"
)


@pytest.fixture
async def two(migrated: None) -> AsyncIterator[tuple[SandboxGateway, SandboxGateway]]:
    """Two sandboxes as two API processes would make them, on the same database."""
    first, second = sandbox_gateway(make_settings()), sandbox_gateway(make_settings())
    yield first, second
    await first.aclose()
    await second.aclose()


def paying(**overrides: Any) -> CardIn:
    return CardIn.model_validate(card(**overrides))


async def test_same_key_on_two_processes_racing_is_one_charge(
    two: tuple[SandboxGateway, SandboxGateway],
) -> None:
    first, second = two
    key = f"k-{uuid.uuid4()}"

    async def pay(gateway: SandboxGateway) -> str:
        charge = await gateway.charge(
            amount_cents=1234, currency="usd", card=paying(), idempotency_key=key, description="x"
        )
        return charge.id

    ids = await asyncio.gather(*(pay(gateway) for gateway in (first, second) * 4))

    assert len(set(ids)) == 1
    listed = [record for record in await second.list_charges() if record.id == ids[0]]
    assert [(record.amount_cents, record.currency, record.live_cents) for record in listed] == [
        (1234, "USD", 1234)
    ]
    assert len(first.charges) + len(second.charges) == 1  # one of them made it
    with pytest.raises(IdempotencyKeyReused):
        await first.charge(
            amount_cents=999, currency="USD", card=paying(), idempotency_key=key, description="x"
        )


async def test_a_decline_is_answered_again_for_its_key_on_another_process(
    two: tuple[SandboxGateway, SandboxGateway],
) -> None:
    first, second = two
    key = f"k-{uuid.uuid4()}"
    declined = paying(card_number=DECLINED_CARD)
    for gateway in (first, second):
        with pytest.raises(CardDeclined):
            await gateway.charge(
                amount_cents=500, currency="USD", card=declined, idempotency_key=key, description=""
            )
    assert first.declines + second.declines == 1


async def test_a_refund_on_one_process_is_the_refund_on_the_other(
    two: tuple[SandboxGateway, SandboxGateway],
) -> None:
    first, second = two
    charge = await first.charge(
        amount_cents=800,
        currency="USD",
        card=paying(),
        idempotency_key=f"k-{uuid.uuid4()}",
        description="",
    )
    key = f"r-{uuid.uuid4()}"
    refunds = await asyncio.gather(
        first.refund(charge_id=charge.id, idempotency_key=key),
        second.refund(charge_id=charge.id, idempotency_key=key),
    )
    assert refunds[0] == refunds[1]
    assert refunds[0].amount_cents == 800
    with pytest.raises(AlreadyRefunded):
        await second.refund(charge_id=charge.id, idempotency_key=f"r-{uuid.uuid4()}")
    listed = [record for record in await first.list_charges() if record.id == charge.id]
    assert [record.live_cents for record in listed] == [0]
