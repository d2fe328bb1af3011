"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    StringConstraints,
)

from techtribe.auth.emails import normal_email
from techtribe.auth.models import Role
from techtribe.inputs import RequestBody

FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


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


class RegisterRequest(RequestBody):
    email: Email
    password: Password
    full_name: FullName


PASSWORD_GRANT_EXAMPLE: dict[str, JsonValue] = {
    "grant_type": "password",
    "username": "student@techtribe.dev",
    "password": "student-pass-1",
}


class PasswordGrant(BaseModel):
    """The token endpoint's `password` grant (form-encoded): a fresh login (a `scope` is
    accepted and ignored)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PASSWORD_GRANT_EXAMPLE]})

    grant_type: Literal["password"]
    username: str = Field(description="The account's e-mail address.")
    password: str


class RefreshTokenGrant(BaseModel):
    """The token endpoint's `refresh_token` grant (form-encoded): spends the refresh token."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"grant_type": "refresh_token", "refresh_token": "eyJhbGciOi..."}]
        }
    )

    grant_type: Literal["refresh_token"]
    refresh_token: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class TokenErrorResponse(BaseModel):
    error: str
    error_description: str


class VerifyEmailRequest(RequestBody):
    token: str = Field(min_length=1, max_length=512)


class PasswordResetRequest(RequestBody):
    email: Email


class PasswordResetConfirm(RequestBody):
    token: str = Field(min_length=1, max_length=512)
    new_password: Password


class Accepted(BaseModel):
    detail: str


class PasswordChange(RequestBody):
    current_password: str = Field(max_length=1024)
    new_password: Password


# A member as others see them next to what they made.
class UserSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    full_name: str
