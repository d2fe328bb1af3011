"""Account closure: each domain forgets the member through a function of its own."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth import service as auth
from techtribe.auth.models import User
from techtribe.auth.oidc import service as oidc
from techtribe.db import utcnow
from techtribe.notifications import service as notifications
from techtribe.poems import service as poems

DELETED_NAME = "Deleted user"


async def close_account(session: AsyncSession, user: User) -> None:
    """Remove personal data but keep the row, so purchases stay whole for accounting."""
    # Their poems and ratings go, and the averages of the poems they rated follow.
    await poems.forget_member(session, user)
    user.email = None
    user.full_name = DELETED_NAME
    user.password_hash = None
    user.bio = None
    user.specialization = None
    user.is_active = False
    user.email_verified = False
    user.deleted_at = utcnow()
    await auth.forget_member(session, user.id)
    await oidc.forget_member(session, user.id)
    await notifications.forget_member(session, user.id)
