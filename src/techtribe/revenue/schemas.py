"""The revenue report and an instructor's earnings as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from techtribe.purchases.models import ItemKind


class Totals(BaseModel):
    currency: str
    gross_cents: int
    refunded_cents: int
    platform_fee_cents: int
    instructor_share_cents: int


class MonthTotals(Totals):
    month: str


class InstructorTotals(Totals):
    instructor_id: uuid.UUID


class RevenueReport(BaseModel):
    currency_totals: list[Totals]
    groups: list[MonthTotals] | list[InstructorTotals]


class SaleLine(BaseModel):
    purchase_id: uuid.UUID
    kind: ItemKind
    course_id: uuid.UUID | None
    slot_id: uuid.UUID | None
    title: str
    sold_at: datetime
    price_cents: int
    currency: str
    instructor_share_cents: int
    refunded: bool


class Earnings(BaseModel):
    currency_totals: list[Totals]
    groups: list[MonthTotals]
    items: list[SaleLine]
    next_cursor: str | None
