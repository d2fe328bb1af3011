"""Profiles and admin management of members (closure: `users/closure.py`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import Role, User
from techtribe.auth.service import revoke_sessions
from techtribe.errors import Conflict, NotFound
from techtribe.pagination import Key, Ordering, paginate

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
