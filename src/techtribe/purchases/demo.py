"""Demo sales for `techtribe seed`: real checkouts with the sandbox card, and one refund.

Each sale goes through checkout with a fixed idempotency key, so a second seed replays
instead of buying again.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from techtribe.auth.models import User
from techtribe.config import Settings
from techtribe.courses.models import Course
from techtribe.errors import DomainError
from techtribe.purchases import checkout, refunds
from techtribe.purchases.cards import CardIn
from techtribe.purchases.models import ItemKind
from techtribe.purchases.payments import AlreadyRefunded, SandboxGateway, sandbox_gateway
from techtribe.purchases.schemas import ItemIn, PurchaseCreate

# (student e-mail, course title); the last sale is refunded.
DEMO_SALES = [
    ("student@techtribe.dev", "Python from zero to async"),
    ("student@techtribe.dev", "PostgreSQL performance tuning"),
    ("maria.lopez@techtribe.dev", "Python from zero to async"),
    ("maria.lopez@techtribe.dev", "Modern JavaScript and React"),
    ("pedro.gomez@techtribe.dev", "Go for backend services"),
    ("elena.castro@techtribe.dev", "Containers and CI pipelines"),
]


async def seed_sales(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Make the demo sales that are missing; returns how many purchases were new."""
    # The service's sandbox: on PostgreSQL its ledger is the one reconcile reads.
    gateway = sandbox_gateway(settings)
    try:
        return await _seed_sales(sessionmaker, settings, gateway)
    finally:
        await gateway.aclose()


async def _seed_sales(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, gateway: SandboxGateway
) -> int:
    card = CardIn(
        card_number="4242 4242 4242 4242",
        exp_month=12,
        exp_year=datetime.now(UTC).year + 3,
        cvc="123",
        holder_name="Demo Student",
    )
    added, purchase_ids = 0, []
    for email, title in DEMO_SALES:
        async with sessionmaker() as session:
            buyer = await session.scalar(select(User).where(User.email == email))
            course = await session.scalar(select(Course).where(Course.title == title))
            if buyer is None or course is None:
                continue
            charges_before = gateway.charge_count
            body = PurchaseCreate(items=[ItemIn(kind=ItemKind.course, id=course.id)], payment=card)
            try:
                _, answer = await checkout.checkout(
                    session, settings, gateway, buyer=buyer, key=f"demo:{title}", body=body
                )
            except DomainError:  # e.g. the member bought it by hand meanwhile
                continue
            added += gateway.charge_count - charges_before
            purchase_ids.append(answer["id"])
    if purchase_ids:
        async with sessionmaker() as session:  # refund_purchase commits
            with contextlib.suppress(AlreadyRefunded):  # refunded by an earlier seed
                await refunds.refund_purchase(session, gateway, uuid.UUID(purchase_ids[-1]))
    return added
