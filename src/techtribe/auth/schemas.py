"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from techtribe.inputs import RequestBody
from techtribe.users.schemas import Email, FullName, Password


class RegisterRequest(RequestBody):
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


class VerifyEmailRequest(RequestBody):
    token: str = Field(min_length=1, max_length=512)


class PasswordResetRequest(RequestBody):
    email: Email


class PasswordResetConfirm(RequestBody):
    token: str = Field(min_length=1, max_length=512)
    new_password: Password


class Accepted(BaseModel):
    detail: str
