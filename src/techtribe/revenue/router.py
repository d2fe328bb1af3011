"""`/admin/revenue` and `/instructors/me/earnings`: what the platform and instructors made."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from techtribe.auth.dependencies import Admin, Instructor
from techtribe.db import SessionDep
from techtribe.inputs import Timestamp
from techtribe.pagination import CursorQuery, LimitQuery
from techtribe.revenue import service
from techtribe.revenue.schemas import Earnings, RevenueReport

router = APIRouter(tags=["revenue"])

From = Annotated[Timestamp | None, Query(alias="from", description="Inclusive, with a UTC offset.")]
To = Annotated[Timestamp | None, Query(alias="to", description="Inclusive, with a UTC offset.")]


@router.get("/admin/revenue", response_model=RevenueReport, operation_id="revenue-report")
async def revenue(
    _admin: Admin,
    session: SessionDep,
    start: From = None,
    end: To = None,
    instructor_id: uuid.UUID | None = None,
    group: Literal["month", "instructor"] | None = None,
) -> Any:
    """Gross, refunded, platform fee and instructor share per currency (and per group).

    Sales count when they were made and refunds when they were given, so
    `platform_fee_cents + instructor_share_cents = gross_cents - refunded_cents`.
    """
    totals, groups = await service.report(
        session, period=service.Period(start, end), instructor_id=instructor_id, group=group
    )
    return {"currency_totals": totals, "groups": groups}


@router.get("/instructors/me/earnings", response_model=Earnings, tags=["instructors"])
async def earnings(
    user: Instructor,
    session: SessionDep,
    start: From = None,
    end: To = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    """The caller's own sales: totals per currency, per month, and the sale lines."""
    period = service.Period(start, end)
    totals, groups = await service.report(
        session, period=period, instructor_id=user.id, group="month"
    )
    items, next_cursor = await service.sale_lines(
        session, user.id, period=period, limit=limit, cursor=cursor
    )
    return {
        "currency_totals": totals,
        "groups": groups,
        "items": items,
        "next_cursor": next_cursor,
    }
