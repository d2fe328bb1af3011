"""The revenue ledger: one entry per sale and per refund of a purchase line, never edited.

Purchases write it (`ledger.py`), in the transaction of the sale or refund; `revenue` reads it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from techtribe.db import Base, UTCDateTime, UUIDPk

if TYPE_CHECKING:
    from techtribe.purchases.models import PurchaseItem


class EntryKind(enum.StrEnum):
    sale = "sale"
    refund = "refund"


class RevenueEntry(UUIDPk, Base):
    """A sale (gross = price) or its reversal (refunded = price, fee and share negated).

    Summing entries gives the report: `platform_fee + instructor_share = gross - refunded`
    for any set of them, and past figures never change when the fee setting does.
    """

    __tablename__ = "revenue_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('sale', 'refund')", name="kind"),
        CheckConstraint(
            "platform_fee_cents + instructor_share_cents = gross_cents - refunded_cents",
            name="balanced",
        ),
        Index("ix_revenue_entries_occurred_at", "occurred_at"),
        # The RESTRICT check when a purchase line is deleted: without it, a scan of the ledger.
        Index("ix_revenue_entries_purchase_item_id", "purchase_item_id"),
        # Covering on PostgreSQL: an instructor's report reads the index only, not the
        # table pages their rows are spread over (measured: docs/performance.md).
        Index(
            "ix_revenue_entries_instructor_id_occurred_at",
            "instructor_id",
            "occurred_at",
            postgresql_include=[
                "currency",
                "month",
                "gross_cents",
                "refunded_cents",
                "platform_fee_cents",
                "instructor_share_cents",
            ],
        ),
    )

    kind: Mapped[str] = mapped_column(String(10))
    purchase_item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_items.id", ondelete="RESTRICT")
    )
    instructor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    gross_cents: Mapped[int]
    refunded_cents: Mapped[int]
    platform_fee_cents: Mapped[int]
    instructor_share_cents: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "YYYY-MM" of occurred_at in UTC, kept so months group the same on every database.
    month: Mapped[str] = mapped_column(String(7))

    # Never loaded; it tells the unit of work to insert the line before its entry when
    # both are flushed together (checkout writes them in one flush).
    item: Mapped[PurchaseItem] = relationship(lazy="raise")
