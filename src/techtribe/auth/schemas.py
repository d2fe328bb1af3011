"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from techtribe.users.schemas import Email, FullName, Password


class RegisterRequest(BaseModel):
    email: Email
    password: Password
    full_name: FullName


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class TokenErrorResponse(BaseModel):
    error: str
    error_description: str


class VerifyEmailRequest(BaseModel):
    token: str = Field(min_length=1, max_length=512)


class PasswordResetRequest(BaseModel):
    email: Email


class PasswordResetConfirm(BaseModel):
    token: str = Field(min_length=1, max_length=512)
    new_password: Password


class Accepted(BaseModel):
    detail: str
