"""Request bodies of the OIDC endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LoginCodeExchange(BaseModel):
    """`POST /auth/oidc/exchange`: documents the body, which the route reads by hand so
    that any malformed one is RFC 6749's `400 invalid_request`, never a 422."""

    login_code: str = Field(
        description="The one-time code from `return_to#login_code=...`.",
        examples=["kVx3...one-time-code"],
    )
