"""Advisory slots (asesorías): an instructor's bookable time, and the seats students book."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from techtribe.auth.models import User
from techtribe.db import Base, Timestamps, UTCDateTime, UUIDPk, utcnow


class AdvisorySlot(UUIDPk, Timestamps, Base):
    """A half-open interval [starts_at, ends_at) of one instructor, for `capacity` students."""

    __tablename__ = "advisory_slots"
    __table_args__ = (
        CheckConstraint("price_cents >= 0 AND price_cents <= 100000000", name="price_cents"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats"),
        CheckConstraint("ends_at > starts_at", name="interval"),
        Index("ix_advisory_slots_starts_at_id", "starts_at", "id"),
        Index("ix_advisory_slots_instructor_id_starts_at", "instructor_id", "starts_at"),
        # PostgreSQL refuses overlapping live slots of one instructor, whatever the
        # concurrency. (SQLite serialises writers; the service's check covers it there.)
        ExcludeConstraint(
            ("instructor_id", "="),
            (text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
            name="ex_advisory_slots_no_overlap",
            using="gist",
            where=text("cancelled_at IS NULL"),
        ).ddl_if(dialect="postgresql"),
    )

    instructor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    topic: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int]
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    capacity: Mapped[int]
    # Changed only by one conditional UPDATE per booking, so capacity can't be exceeded.
    seats_taken: Mapped[int] = mapped_column(default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    instructor: Mapped[User] = relationship(lazy="raise")

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def seats_left(self) -> int:
        return 0 if self.cancelled_at else self.capacity - self.seats_taken


class Booking(UUIDPk, Base):
    """A student's seat in a slot. Made by purchases; a refund or a cancelled slot ends it."""

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("slot_id", "user_id"),
        Index("ix_bookings_user_id", "user_id"),
    )

    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("advisory_slots.id", ondelete="RESTRICT"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    slot: Mapped[AdvisorySlot] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")
