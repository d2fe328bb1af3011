"""Refunds: an admin's refund of a whole purchase, and the seats of a cancelled slot."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.courses.models import Enrollment
from techtribe.courses.service import withdraw_review
from techtribe.db import utcnow
from techtribe.notifications.outbox import enqueue
from techtribe.purchases.models import (
    Purchase,
    PurchaseItem,
    PurchaseStatus,
)
from techtribe.purchases.payments import AlreadyRefunded, PaymentGateway
from techtribe.purchases.service import load_purchase, money
from techtribe.revenue.ledger import record_refund
from techtribe.users.models import User


async def refund_purchase(
    session: AsyncSession, gateway: PaymentGateway, purchase_id: uuid.UUID
) -> Purchase:
    """Refund what is left of a purchase and withdraw what it granted; twice is `409`."""
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
    if amount > 0 and purchase.gateway_charge_id:
        await gateway.refund(
            charge_id=purchase.gateway_charge_id,
            amount_cents=amount,
            idempotency_key=f"tt-refund-{purchase.id}",
        )
    await _withdraw(session, purchase, open_items)
    await _mail_refund(session, purchase, open_items)
    await session.flush()
    return purchase


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
            await session.execute(
                delete(Enrollment).where(
                    Enrollment.user_id == purchase.user_id, Enrollment.course_id == item.course_id
                )
            )
            await withdraw_review(session, user_id=purchase.user_id, course_id=item.course_id)
        elif item.slot_id is not None:
            removed = await session.execute(
                delete(Booking).where(
                    Booking.user_id == purchase.user_id, Booking.slot_id == item.slot_id
                )
            )
            if removed.rowcount:  # type: ignore[attr-defined]
                await session.execute(
                    update(AdvisorySlot)
                    .where(AdvisorySlot.id == item.slot_id)
                    .values(seats_taken=AdvisorySlot.seats_taken - 1)
                    .execution_options(synchronize_session=False)
                )


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
