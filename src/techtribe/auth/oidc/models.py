"""OIDC login state, one-time login codes, and the links of provider accounts to users.

State and login codes are kept in the database, so the browser may come back to any
server instance; only SHA-256 digests of the values handed out are stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from techtribe.db import Base, UTCDateTime, UUIDPk, utcnow


class OIDCState(UUIDPk, Base):
    """One authorization request in flight: spent by the callback, once, within 10 minutes."""

    __tablename__ = "oidc_states"
    __table_args__ = (Index("ix_oidc_states_expires_at", "expires_at"),)

    state_digest: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    return_to: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OIDCLoginCode(UUIDPk, Base):
    """The one-time code the callback hands the client, exchanged for tokens within 60 s."""

    __tablename__ = "oidc_login_codes"
    __table_args__ = (
        Index("ix_oidc_login_codes_user_id", "user_id"),
        Index("ix_oidc_login_codes_expires_at", "expires_at"),
    )

    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OIDCIdentity(UUIDPk, Base):
    """A provider account (issuer's `sub`) linked to a user: found again after an e-mail change."""

    __tablename__ = "oidc_identities"
    __table_args__ = (
        UniqueConstraint("provider", "subject"),
        Index("ix_oidc_identities_user_id", "user_id"),
    )

    provider: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
