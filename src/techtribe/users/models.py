"""The user account: identity, role and public profile."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from techtribe.db import Base, Timestamps, UTCDateTime, UUIDPk


class Role(enum.StrEnum):
    student = "student"
    instructor = "instructor"
    admin = "admin"


class User(UUIDPk, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('student', 'instructor', 'admin')", name="role"),
        CheckConstraint("poems_count >= 0 AND ratings_count >= 0", name="counts"),
        Index("ix_users_created_at_id", "created_at", "id"),
        Index("ix_users_full_name_id", "full_name", "id"),
        Index("ix_users_role", "role"),
    )

    # In `normal_email`'s form (NFC, lower case); NULL once the account is deleted (the
    # address may register again).
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    # NULL for a deleted account (and, later, for accounts that only sign in with a provider).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), default=Role.student)
    is_active: Mapped[bool] = mapped_column(default=True)
    email_verified: Mapped[bool] = mapped_column(default=False)
    bio: Mapped[str | None] = mapped_column(Text)
    specialization: Mapped[str | None] = mapped_column(String(200))
    # Kept by the poems service so admins can sort members by activity with an index.
    poems_count: Mapped[int] = mapped_column(default=0, server_default="0")
    ratings_count: Mapped[int] = mapped_column(default=0, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
