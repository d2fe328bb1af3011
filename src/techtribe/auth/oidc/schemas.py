"""Request bodies of the OIDC endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LoginCodeExchange(BaseModel):
    # Optional here so a missing code is RFC 6749's `400 invalid_request`, not a 422.
    login_code: str | None = Field(default=None, description="The code from the callback.")
