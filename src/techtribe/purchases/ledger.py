"""Writing the revenue ledger: what a sale earns each side, and how a refund takes it back
(purchases own the writing, `revenue` the reports)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.purchases.ledger_models import EntryKind, RevenueEntry
from techtribe.purchases.models import PurchaseItem


def split(price_cents: int, fee_percent: int) -> tuple[int, int]:
    """(platform fee, instructor share) of a price, in whole cents.

    The fee is rounded down to the cent and the instructor gets the rest, so the two
    always add up to the price and rounding never favours the platform.
    """
    fee = price_cents * fee_percent // 100
    return fee, price_cents - fee


def record_sale(session: AsyncSession, item: PurchaseItem, at: datetime) -> None:
    session.add(
        RevenueEntry(
            kind=EntryKind.sale,
            purchase_item_id=item.id,
            instructor_id=item.instructor_id,
            currency=item.currency,
            gross_cents=item.price_cents,
            refunded_cents=0,
            platform_fee_cents=item.platform_fee_cents,
            instructor_share_cents=item.instructor_share_cents,
            occurred_at=at,
            month=at.strftime("%Y-%m"),
        )
    )


def record_refund(session: AsyncSession, item: PurchaseItem, at: datetime) -> None:
    """Reverse exactly what the sale recorded (the split of its day, not today's setting)."""
    session.add(
        RevenueEntry(
            kind=EntryKind.refund,
            purchase_item_id=item.id,
            instructor_id=item.instructor_id,
            currency=item.currency,
            gross_cents=0,
            refunded_cents=item.price_cents,
            platform_fee_cents=-item.platform_fee_cents,
            instructor_share_cents=-item.instructor_share_cents,
            occurred_at=at,
            month=at.strftime("%Y-%m"),
        )
    )
