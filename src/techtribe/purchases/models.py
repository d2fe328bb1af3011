"""Purchases, their lines, and the idempotency keys that make checkout safe to retry."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from techtribe.db import Base, UTCDateTime, UUIDPk, utcnow


class PurchaseStatus(enum.StrEnum):
    paid = "paid"
    refunded = "refunded"


class ItemKind(enum.StrEnum):
    course = "course"
    advisory = "advisory"


class Purchase(UUIDPk, Base):
    """A paid order. Only the card's brand, last four digits and expiry are kept."""

    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint("status IN ('paid', 'refunded')", name="status"),
        CheckConstraint("total_cents >= 0", name="total_cents"),
        Index("ix_purchases_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_purchases_created_at_id", "created_at", "id"),
    )

    # RESTRICT: a deleted account keeps its anonymous row, so purchases stay whole.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(10), default=PurchaseStatus.paid)
    total_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    card_brand: Mapped[str] = mapped_column(String(20))
    card_last4: Mapped[str] = mapped_column(String(4))
    card_exp_month: Mapped[int]
    card_exp_year: Mapped[int]
    # The gateway's reference; NULL for a free order (nothing was charged).
    gateway_charge_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    items: Mapped[list[PurchaseItem]] = relationship(
        back_populates="purchase", lazy="raise", order_by="PurchaseItem.position"
    )


class PurchaseItem(UUIDPk, Base):
    """One line: a course or an advisory seat, priced and split at the time of sale."""

    __tablename__ = "purchase_items"
    __table_args__ = (
        CheckConstraint("kind IN ('course', 'advisory')", name="kind"),
        CheckConstraint(
            "(kind = 'course' AND course_id IS NOT NULL AND slot_id IS NULL)"
            " OR (kind = 'advisory' AND slot_id IS NOT NULL AND course_id IS NULL)",
            name="target",
        ),
        CheckConstraint("price_cents >= 0", name="price_cents"),
        CheckConstraint("platform_fee_cents + instructor_share_cents = price_cents", name="split"),
        UniqueConstraint("purchase_id", "position"),
        Index("ix_purchase_items_course_id", "course_id"),
        Index("ix_purchase_items_slot_id", "slot_id"),
        Index("ix_purchase_items_instructor_id_created_at", "instructor_id", "created_at"),
    )

    purchase_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("purchases.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT")
    )
    slot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("advisory_slots.id", ondelete="RESTRICT")
    )
    instructor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    # What the buyer saw: the title and price at the time of sale.
    title: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    platform_fee_cents: Mapped[int]
    instructor_share_cents: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A line is refunded with its purchase, or alone when its advisory slot is cancelled.
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    purchase: Mapped[Purchase] = relationship(back_populates="items", lazy="raise")

    @property
    def target_id(self) -> uuid.UUID:
        target = self.course_id or self.slot_id
        assert target is not None  # the `target` check constraint
        return target


class IdempotencyKey(UUIDPk, Base):
    """A client's `Idempotency-Key`, what it was sent with, and the answer it got.

    The unique (user_id, key) decides races: of concurrent requests with one key, one
    inserts the row and does the work; the others wait on the row and replay its answer.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
        # A purchase's deletion sets this NULL: without it, a scan of all keys.
        Index("ix_idempotency_keys_purchase_id", "purchase_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # An HMAC of the request body (which holds the card), never the body itself.
    request_hash: Mapped[str] = mapped_column(String(64))
    # Set in the same transaction that inserts the row: a committed row always has both.
    response_status: Mapped[int | None]
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    purchase_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("purchases.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # Never loaded; it tells the unit of work to insert the purchase before this row's
    # update names it, when both are flushed together (as checkout does).
    purchase: Mapped[Purchase | None] = relationship(lazy="raise")


class PurchaseAttempt(UUIDPk, Base):
    """A checkout attempt whose charge was voided because its purchase did not commit.

    Written (and committed) before the void is asked of the gateway. Their count for a
    (user, key) is the attempt number in the gateway's idempotency key: once a charge is
    voided, a retry with the same `Idempotency-Key` charges anew instead of getting the
    voided charge back, while retries of a live attempt (a timeout) keep its key.
    """

    __tablename__ = "purchase_attempts"
    __table_args__ = (Index("ix_purchase_attempts_user_id_key", "user_id", "key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    charge_id: Mapped[str] = mapped_column(String(100))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
