"""`/users` and `/instructors`: the caller's account, admin management, public profiles."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from techtribe.auth.dependencies import (
    Admin,
    CurrentUser,
    FreshAdmin,
    FreshUser,
    Viewer,
)
from techtribe.auth.models import Role
from techtribe.auth.schemas import UserRead
from techtribe.db import SessionDep
from techtribe.pagination import CursorQuery, LimitQuery, Page
from techtribe.users import service
from techtribe.users.closure import close_account
from techtribe.users.schemas import (
    AdminUserUpdate,
    UserAdminRead,
    UserUpdate,
)

router = APIRouter(tags=["users"])


@router.get("/users/me", response_model=UserRead)
async def read_me(user: Viewer) -> Any:
    return user


@router.patch("/users/me", response_model=UserRead)
async def update_me(body: UserUpdate, user: CurrentUser, session: SessionDep) -> Any:
    """Change profile fields; fields left out stay as they are."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("full_name") is None:
        changes.pop("full_name", None)  # the name can't be cleared, only changed
    service.update_fields(user, changes)
    await session.flush()
    return user


@router.delete("/users/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(user: FreshUser, session: SessionDep) -> Response:
    """Needs a fresh token. Personal data goes; purchases stay for accounting."""
    await close_account(session, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", response_model=Page[UserAdminRead])
async def list_users(
    _: Admin,
    session: SessionDep,
    role: Role | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the name or e-mail.")
    ] = None,
    sort: Literal["newest", "name", "poems", "ratings"] = "newest",
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    items, next_cursor = await service.list_users(
        session, role=role, q=q, sort=sort, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/users/{user_id}", response_model=UserAdminRead)
async def read_user(user_id: uuid.UUID, _: Admin, session: SessionDep) -> Any:
    return await service.get_live_user(session, user_id)


@router.patch("/users/{user_id}", response_model=UserAdminRead)
async def update_user(
    user_id: uuid.UUID, body: AdminUserUpdate, admin: FreshAdmin, session: SessionDep
) -> Any:
    """Change a member's role or (de)activate them; needs a fresh token. A deactivated
    member is out at once, for good: reactivation doesn't bring their old logins back."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return await service.admin_update(session, admin=admin, user_id=user_id, changes=changes)
