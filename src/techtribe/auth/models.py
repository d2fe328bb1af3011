"""The member account (identity, role, public profile), login sessions (token families),
refresh tokens, and single-use e-mail tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from techtribe.db import Base, Timestamps, UTCDateTime, UUIDPk, utcnow


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


class AuthSession(UUIDPk, Base):
    """One login: every access and refresh token it issues carries its id (`sid`).

    Revoking the row revokes the whole family on every server instance, because each
    request reads it from the database.
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshToken(Base):
    """A refresh token of a session, by its `jti`; `used_at` set once it is spent (rotation)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session_id", "session_id"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE")
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OneTimeToken(UUIDPk, Base):
    """E-mail verification and password reset tokens; only a SHA-256 digest is stored."""

    __tablename__ = "one_time_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('verify_email', 'password_reset')", name="purpose"),
        Index("ix_one_time_tokens_user_id_purpose", "user_id", "purpose"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
