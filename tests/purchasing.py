"""Factories for purchase tests: cards, checkout calls and advisory slots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from techtribe.purchases.payments import SandboxGateway
from tests.helpers import API, Member

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000000000000002"
TIMEOUT_CARD = "4000000000000119"


def card(number: str = GOOD_CARD, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "card_number": number,
        "exp_month": 12,
        "exp_year": datetime.now(UTC).year + 3,
        "cvc": "123",
        "holder_name": "Ada Lovelace",
    }
    body.update(overrides)
    return body


def order(*items: tuple[str, str], payment: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "items": [{"kind": kind, "id": item_id} for kind, item_id in items],
        "payment": payment or card(),
    }


async def buy(
    client: httpx.AsyncClient,
    buyer: Member,
    *items: tuple[str, str],
    key: str | None = None,
    payment: dict[str, Any] | None = None,
) -> httpx.Response:
    return await client.post(
        f"{API}/purchases",
        json=order(*items, payment=payment),
        headers={**buyer.headers, "Idempotency-Key": key or str(uuid.uuid4())},
    )


def sandbox(app: FastAPI) -> SandboxGateway:
    gateway = app.state.payment_gateway
    assert isinstance(gateway, SandboxGateway)
    return gateway


async def create_slot(
    client: httpx.AsyncClient, owner: Member, *, days_ahead: int = 7, **overrides: Any
) -> dict[str, Any]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(
        days=days_ahead, minutes=uuid.uuid4().int % 100_000
    )
    body: dict[str, Any] = {
        "topic": "Code review",
        "description": "Bring your code.",
        "starts_at": starts.isoformat(),
        "duration_minutes": 60,
        "price_cents": 4000,
        "currency": "USD",
        "capacity": 1,
    }
    body.update(overrides)
    response = await client.post(f"{API}/advisories", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
