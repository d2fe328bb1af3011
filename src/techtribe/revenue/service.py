"""Revenue figures, summed by the database over the ledger, never row by row in Python."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.pagination import Key, Ordering, paginate
from techtribe.purchases.ledger_models import RevenueEntry
from techtribe.purchases.models import ItemKind, PurchaseItem
from techtribe.revenue.schemas import InstructorTotals, MonthTotals, SaleLine, Totals

SALE_ORDER = Ordering(
    "newest",
    (
        Key.timestamp(PurchaseItem.created_at, descending=True),
        Key.uuid(PurchaseItem.id, descending=True),
    ),
)

_AMOUNTS = ("gross_cents", "refunded_cents", "platform_fee_cents", "instructor_share_cents")
_SUMS = (
    func.sum(RevenueEntry.gross_cents).label("gross_cents"),
    func.sum(RevenueEntry.refunded_cents).label("refunded_cents"),
    func.sum(RevenueEntry.platform_fee_cents).label("platform_fee_cents"),
    func.sum(RevenueEntry.instructor_share_cents).label("instructor_share_cents"),
)


@dataclass(frozen=True)
class Period:
    """Inclusive bounds on when a sale or refund happened; None is open."""

    start: datetime | None = None
    end: datetime | None = None

    def over(self, column: Any) -> list[ColumnElement[bool]]:
        bounds = []
        if self.start is not None:
            bounds.append(column >= self.start)
        if self.end is not None:
            bounds.append(column <= self.end)
        return bounds


def _totals(row: Any) -> dict[str, Any]:
    return {
        "currency": row.currency,
        "gross_cents": int(row.gross_cents),
        "refunded_cents": int(row.refunded_cents),
        "platform_fee_cents": int(row.platform_fee_cents),
        "instructor_share_cents": int(row.instructor_share_cents),
    }


async def report(
    session: AsyncSession,
    *,
    period: Period,
    instructor_id: uuid.UUID | None,
    group: str | None,
) -> tuple[list[Totals], list[MonthTotals] | list[InstructorTotals]]:
    """Totals per currency, and per month or instructor (and currency) when asked."""
    where = period.over(RevenueEntry.occurred_at)
    if instructor_id is not None:
        where.append(RevenueEntry.instructor_id == instructor_id)
    key = {"month": RevenueEntry.month, "instructor": RevenueEntry.instructor_id}.get(group or "")
    # One pass over the ledger: per-currency totals are added up from the group rows.
    columns = [RevenueEntry.currency] if key is None else [key, RevenueEntry.currency]
    rows = list(
        await session.execute(
            select(*columns, *_SUMS).where(*where).group_by(*columns).order_by(*columns)
        )
    )
    totals = _currency_totals(rows)
    if group == "month":
        return totals, [MonthTotals(month=row.month, **_totals(row)) for row in rows]
    if group == "instructor":
        return totals, [
            InstructorTotals(instructor_id=row.instructor_id, **_totals(row)) for row in rows
        ]
    return totals, []


def _currency_totals(rows: list[Any]) -> list[Totals]:
    sums: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = sums.setdefault(
            row.currency,
            {"currency": row.currency, **dict.fromkeys(_AMOUNTS, 0)},
        )
        for name in _AMOUNTS:
            entry[name] += int(getattr(row, name))
    return [Totals(**sums[currency]) for currency in sorted(sums)]


async def sale_lines(
    session: AsyncSession,
    instructor_id: uuid.UUID,
    *,
    period: Period,
    limit: int,
    cursor: str | None,
) -> tuple[list[SaleLine], str | None]:
    """The instructor's sold lines, newest first, one keyset page at a time."""
    stmt = select(PurchaseItem).where(
        PurchaseItem.instructor_id == instructor_id, *period.over(PurchaseItem.created_at)
    )
    items, next_cursor = await paginate(session, stmt, SALE_ORDER, limit=limit, cursor=cursor)
    lines = [
        SaleLine(
            purchase_id=item.purchase_id,
            kind=ItemKind(item.kind),
            course_id=item.course_id,
            slot_id=item.slot_id,
            title=item.title,
            sold_at=item.created_at,
            price_cents=item.price_cents,
            currency=item.currency,
            instructor_share_cents=item.instructor_share_cents,
            refunded=item.refunded_at is not None,
        )
        for item in items
    ]
    return lines, next_cursor
