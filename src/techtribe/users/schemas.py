"""Users as the API shows them, and what callers may change."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from techtribe.auth.models import Role
from techtribe.auth.schemas import FullName, UserRead
from techtribe.inputs import RequestBody

Bio = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Specialization = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class UserAdminRead(UserRead):
    """A member as admins see them."""

    is_active: bool
    poems_count: int
    ratings_count: int
    updated_at: datetime


class UserUpdate(RequestBody):
    """`PATCH /users/me`: profile fields only (role and e-mail are not the caller's to change)."""

    full_name: FullName | None = None
    bio: Bio | None = None
    specialization: Specialization | None = None


class AdminUserUpdate(RequestBody):
    role: Role | None = None
    is_active: bool | None = None
