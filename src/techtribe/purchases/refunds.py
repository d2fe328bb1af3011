"""Refunds: an admin's refund of a whole purchase, and the seats of a cancelled slot.

A refund moves money at the gateway before its transaction commits (the gateway can
refuse, and then nothing is withdrawn). If that commit fails after the gateway refunded,
the purchase would read `paid` on a refunded charge: `_settle_refund` records the refund
again in a new transaction (retried), so the purchase reads `refunded` after all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.advisories.seats import release_seat
from techtribe.auth.models import User
from techtribe.courses.service import unenroll
from techtribe.db import utcnow
from techtribe.notifications.outbox import enqueue, hand_over
from techtribe.purchases.ledger import record_refund
from techtribe.purchases.models import (
    Purchase,
    PurchaseItem,
    PurchaseStatus,
)
from techtribe.purchases.payments import AlreadyRefunded, PaymentGateway
from techtribe.purchases.service import load_purchase, money

log = logging.getLogger("techtribe.purchases")

# Pauses between the tries of recording a refund the gateway made but our commit lost.
SETTLE_PAUSES = (0.0, 0.2, 1.0, 3.0)


async def refund_purchase(
    session: AsyncSession, gateway: PaymentGateway, purchase_id: uuid.UUID
) -> Purchase:
    """Refund what is left of a purchase and withdraw what it granted; twice is `409`.

    Commits `session`. A commit that fails after the gateway refunded is settled on a new
    transaction; only when that fails too does the error reach the caller (a retry of the
    refund is safe: the gateway refund's key is fixed, so it answers the same refund).
    """
    refunded = await _refund(session, gateway, purchase_id)
    try:
        await session.commit()
    except Exception:
        if not refunded:
            raise
        with contextlib.suppress(Exception):
            await session.rollback()
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        if not await _settle_refund(engine, gateway, purchase_id, session):
            raise
        # The rollback expired what the request had loaded (the admin, for one): the
        # route goes on using it.
        for instance in list(session.identity_map.values()):
            await session.refresh(instance)
    return await load_purchase(session, purchase_id)


async def _refund(session: AsyncSession, gateway: PaymentGateway, purchase_id: uuid.UUID) -> bool:
    """Claims the paid purchase, refunds it at the gateway, withdraws, mails; flushed.

    Whether the gateway refunded anything (money moved, or had moved for the same key).
    """
    claimed = await session.execute(
        update(Purchase)
        .where(Purchase.id == purchase_id, Purchase.status == PurchaseStatus.paid)
        .values(status=PurchaseStatus.refunded, refunded_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    purchase = await load_purchase(session, purchase_id)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyRefunded()
    open_items = [item for item in purchase.items if item.refunded_at is None]
    amount = sum(item.price_cents for item in open_items)
    refunded = amount > 0 and purchase.gateway_charge_id is not None
    if refunded:
        await gateway.refund(
            charge_id=purchase.gateway_charge_id or "",
            amount_cents=amount,
            idempotency_key=f"tt-refund-{purchase.id}",
        )
    await _withdraw(session, purchase, open_items)
    await _mail_refund(session, purchase, open_items)
    await session.flush()
    return refunded


async def _settle_refund(
    engine: AsyncEngine, gateway: PaymentGateway, purchase_id: uuid.UUID, request: AsyncSession
) -> bool:
    """The gateway refunded but the commit failed: record the refund anew, on new connections.

    Each try repeats the whole refund in its own transaction; the gateway answers the
    refund it already made (same key), and a purchase found refunded already (our COMMIT
    went through although its answer was lost, or a concurrent retry) needs nothing more.
    Whether the purchase reads `refunded` now.
    """
    for pause in SETTLE_PAUSES:
        await asyncio.sleep(pause)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as retry:
                try:
                    await _refund(retry, gateway, purchase_id)
                except AlreadyRefunded:
                    log.warning(
                        "refund of purchase %s committed although its COMMIT failed", purchase_id
                    )
                    return True
                await retry.commit()
                # New e-mails: sent after the request's session commits (or by the sweep).
                hand_over(retry, request)
        except Exception:
            log.warning("recording the refund of purchase %s failed", purchase_id, exc_info=True)
            continue
        log.error("refund of purchase %s failed to commit; recorded on a retry", purchase_id)
        return True
    log.critical(
        "purchase %s was refunded at the gateway but the refund could not be recorded: it "
        "reads paid on a refunded charge until the refund is retried (safe: the gateway "
        "answers the same refund); `techtribe reconcile` lists it",
        purchase_id,
    )
    return False


async def refund_bookings(
    session: AsyncSession,
    slot: AdvisorySlot,
    bookings: Sequence[Booking],
    *,
    gateway: PaymentGateway,
) -> None:
    """A cancelled slot: refund each booked seat's line (and its purchase when nothing is left)."""
    if not bookings:
        return
    items = list(
        await session.scalars(
            select(PurchaseItem)
            .join(Purchase, Purchase.id == PurchaseItem.purchase_id)
            .where(
                PurchaseItem.slot_id == slot.id,
                PurchaseItem.refunded_at.is_(None),
                Purchase.user_id.in_([booking.user_id for booking in bookings]),
            )
            .options(selectinload(PurchaseItem.purchase).selectinload(Purchase.items))
        )
    )
    for item in items:
        purchase = item.purchase
        if item.price_cents > 0 and purchase.gateway_charge_id:
            await gateway.refund(
                charge_id=purchase.gateway_charge_id,
                amount_cents=item.price_cents,
                idempotency_key=f"tt-refund-item-{item.id}",
            )
        await _withdraw(session, purchase, [item])
        if all(other.refunded_at is not None for other in purchase.items):
            purchase.status = PurchaseStatus.refunded
            purchase.refunded_at = utcnow()
    await session.flush()


async def _withdraw(session: AsyncSession, purchase: Purchase, items: list[PurchaseItem]) -> None:
    """Take back what refunded lines granted: the enrollment (and the review it allowed), or
    the seat."""
    now = utcnow()
    for item in items:
        item.refunded_at = now
        record_refund(session, item, now)
        if item.course_id is not None:
            await unenroll(session, user_id=purchase.user_id, course_id=item.course_id)
        elif item.slot_id is not None:
            await release_seat(session, slot_id=item.slot_id, user_id=purchase.user_id)


async def _mail_refund(
    session: AsyncSession, purchase: Purchase, items: list[PurchaseItem]
) -> None:
    buyer = await session.get(User, purchase.user_id)
    if buyer is None or buyer.email is None:
        return
    amount = sum(item.price_cents for item in items)
    await enqueue(
        session,
        kind="purchase_refunded",
        recipient=buyer.email,
        user_id=buyer.id,
        data={
            "purchase_id": str(purchase.id),
            "name": buyer.full_name,
            "amount": money(amount, purchase.currency),
            "card": f"{purchase.card_brand} card ending in {purchase.card_last4}",
        },
    )
