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


class ProviderRead(BaseModel):
    """One configured sign-in provider, as `GET /auth/providers` lists it."""

    name: str = Field(description="The provider's name in the OIDC paths.", examples=["google"])
    display_name: str = Field(description="What a sign-in button says.", examples=["Google"])
    authorize_url: str = Field(
        description="Where a browser starts signing in (`GET .../authorize`); add "
        "`?return_to=<url>` to come back elsewhere than `PUBLIC_BASE_URL/`.",
        examples=["https://techtribe.example/api/v1/auth/oidc/google/authorize"],
    )
