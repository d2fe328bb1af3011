"""Profiles, admin management of members, and account deletion."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import OneTimeToken
from techtribe.auth.oidc.models import OIDCIdentity, OIDCLoginCode
from techtribe.auth.service import revoke_sessions
from techtribe.db import utcnow
from techtribe.errors import Conflict, NotFound
from techtribe.notifications.models import OutboxMessage
from techtribe.pagination import Key, Ordering, paginate
from techtribe.poems.service import remove_member_content
from techtribe.users.models import Role, User

DELETED_NAME = "Deleted user"

USER_SORTS = {
    "newest": Ordering(
        "newest",
        (Key.timestamp(User.created_at, descending=True), Key.uuid(User.id, descending=True)),
    ),
    "name": Ordering("name", (Key(User.full_name), Key.uuid(User.id))),
    "poems": Ordering("poems", (Key(User.poems_count, descending=True), Key.uuid(User.id))),
    "ratings": Ordering("ratings", (Key(User.ratings_count, descending=True), Key.uuid(User.id))),
}


class UserNotFound(NotFound):
    detail_text = "No such user."


class CannotChangeSelf(Conflict):
    code = "cannot_change_self"
    detail_text = (
        "Admins can't change their own role or activation: another admin must "
        "(or `techtribe create-admin`)."
    )


def update_fields(target: Any, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(target, name, value)


async def get_live_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or user.is_deleted:
        raise UserNotFound()
    return user


async def admin_update(
    session: AsyncSession, *, admin: User, user_id: uuid.UUID, changes: dict[str, Any]
) -> User:
    """An admin changes a member's `role` / `is_active`.

    An admin can't lock themselves out (the last admin would need the command line). A
    value equal to the current one is not a change, so a client may send the whole form.
    Deactivation revokes every login of the member: their tokens stay dead afterwards.
    """
    user = await get_live_user(session, user_id)
    if user.id == admin.id and any(getattr(user, name) != value for name, value in changes.items()):
        raise CannotChangeSelf()
    if changes.get("is_active") is False:
        await revoke_sessions(session, user.id, reason="deactivated")
    update_fields(user, changes)
    await session.flush()
    return user


async def list_users(
    session: AsyncSession,
    *,
    role: Role | None,
    q: str | None,
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[User], str | None]:
    stmt = select(User).where(User.deleted_at.is_(None))
    if role is not None:
        stmt = stmt.where(User.role == role)
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(User.full_name.ilike(pattern, escape="\\"), User.email.like(pattern, escape="\\"))
        )
    return await paginate(session, stmt, USER_SORTS[sort], limit=limit, cursor=cursor)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_instructor(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or user.is_deleted or not user.is_active or user.role != Role.instructor:
        raise NotFound("No such instructor.")
    return user


async def delete_account(session: AsyncSession, user: User) -> None:
    """Remove personal data but keep the row, so purchases stay whole for accounting."""
    # Their poems and ratings go, and the averages of the poems they rated follow.
    await remove_member_content(session, user)
    user.email = None
    user.full_name = DELETED_NAME
    user.password_hash = None
    user.bio = None
    user.specialization = None
    user.is_active = False
    user.email_verified = False
    user.deleted_at = utcnow()
    await revoke_sessions(session, user.id, reason="account_deleted")
    await session.execute(delete(OneTimeToken).where(OneTimeToken.user_id == user.id))
    # Provider accounts link to people: unlinked, so signing in again makes a new account.
    await session.execute(delete(OIDCIdentity).where(OIDCIdentity.user_id == user.id))
    await session.execute(delete(OIDCLoginCode).where(OIDCLoginCode.user_id == user.id))
    # Mail to or about the member holds their address: it goes too.
    await session.execute(delete(OutboxMessage).where(OutboxMessage.user_id == user.id))
