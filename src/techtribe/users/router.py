"""`/users` and `/instructors`: the caller's account, admin management, public profiles."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from techtribe.auth import service as auth_service
from techtribe.auth.dependencies import (
    Admin,
    AuthDep,
    CurrentUser,
    FreshAdmin,
    FreshUser,
)
from techtribe.config import SettingsDep
from techtribe.courses import catalog
from techtribe.courses.schemas import CourseRead
from techtribe.db import ReadSessionDep, SessionDep
from techtribe.pagination import CursorQuery, LimitQuery, Page
from techtribe.users import service
from techtribe.users.closure import close_account
from techtribe.users.models import Role
from techtribe.users.schemas import (
    AdminUserUpdate,
    InstructorProfile,
    PasswordChange,
    UserAdminRead,
    UserRead,
    UserUpdate,
)

router = APIRouter(tags=["users"])


@router.get("/users/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> Any:
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


@router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, ctx: AuthDep, _: FreshUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """Needs a fresh token. This login stays signed in; every other one is revoked."""
    await auth_service.change_password(
        session, settings, ctx, current=body.current_password, new=body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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


@router.get("/instructors/{user_id}", response_model=InstructorProfile, tags=["instructors"])
async def instructor_profile(user_id: uuid.UUID, session: ReadSessionDep) -> Any:
    """An instructor's public profile (no e-mail address) and their published courses."""
    instructor = await service.get_instructor(session, user_id)
    courses = await catalog.instructor_courses(session, instructor.id)
    return InstructorProfile.model_validate(instructor).model_copy(
        update={"courses": [CourseRead.model_validate(course) for course in courses]}
    )
