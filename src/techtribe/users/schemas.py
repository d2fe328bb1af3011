"""Users as the API shows them, and what callers may change."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, StringConstraints

from techtribe.inputs import RequestBody
from techtribe.users.emails import normal_email
from techtribe.users.models import Role

FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Bio = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Specialization = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


# Stored and compared in one form only (see `normal_email`).
Email = Annotated[EmailStr, AfterValidator(normal_email)]


def _password_rules(value: str) -> str:
    size = len(value.encode())
    if size < 8:
        raise ValueError("password must be at least 8 bytes long")
    if size > 72:
        # bcrypt reads only 72 bytes: refuse rather than silently cut.
        raise ValueError("password must be at most 72 bytes long (UTF-8)")
    if not re.search(r"[^\W\d_]", value) or not re.search(r"\d", value):
        raise ValueError("password must contain at least one letter and one digit")
    return value


Password = Annotated[str, AfterValidator(_password_rules)]


class UserRead(BaseModel):
    """The caller's own account (`GET /users/me`)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str | None
    full_name: str
    role: Role
    email_verified: bool
    bio: str | None
    specialization: str | None
    created_at: datetime


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
