"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from techtribe.inputs import RequestBody
from techtribe.users.schemas import Email, FullName, Password


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
