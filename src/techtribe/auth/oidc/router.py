"""`/auth/oidc`: sign in with Google (or another configured OpenID Connect provider)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from techtribe.auth.dependencies import SettingsDep
from techtribe.auth.oidc import service
from techtribe.auth.oidc.providers import OIDCRegistry, ProviderClient
from techtribe.auth.oidc.schemas import LoginCodeExchange
from techtribe.auth.schemas import TokenErrorResponse, TokenResponse
from techtribe.db import SessionDep
from techtribe.errors import NO_STORE, OAuthError

router = APIRouter(prefix="/auth/oidc", tags=["auth"])

# Redirects carry one-time values: never cached, never leaked through a Referer.
_REDIRECT_HEADERS = {**NO_STORE, "Referrer-Policy": "no-referrer"}


def get_provider(provider: str, request: Request) -> ProviderClient:
    registry: OIDCRegistry = request.app.state.oidc
    return service.provider_client(registry, provider)


def get_http(request: Request) -> httpx.AsyncClient:
    http: httpx.AsyncClient = request.app.state.oidc_http
    return http


ProviderDep = Annotated[ProviderClient, Depends(get_provider)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=302, headers=_REDIRECT_HEADERS)


@router.get(
    "/{provider}/authorize",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the provider's authorization endpoint."}},
)
async def authorize(
    client: ProviderDep,
    session: SessionDep,
    settings: SettingsDep,
    http: HttpDep,
    return_to: Annotated[
        str | None, Query(description="Where to come back to; default PUBLIC_BASE_URL/.")
    ] = None,
) -> RedirectResponse:
    """Start signing in: redirects to the provider with state, nonce and PKCE (S256)."""
    url = await service.start_login(
        session, settings, http, client, return_to=return_to or f"{settings.public_base_url}/"
    )
    return _redirect(url)


@router.get(
    "/{provider}/callback",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To `return_to#login_code=...` or `...#error=<code>`."}},
)
async def callback(
    request: Request,
    client: ProviderDep,
    session: SessionDep,
    settings: SettingsDep,
    http: HttpDep,
) -> RedirectResponse:
    """Where the provider sends the browser back, with `code` and `state` (or `error`)."""
    params = dict(request.query_params)
    return _redirect(await service.finish_login(session, settings, http, client, params))


@router.post(
    "/exchange",
    response_model=TokenResponse,
    responses={400: {"model": TokenErrorResponse, "description": "RFC 6749 error."}},
)
async def exchange(
    body: LoginCodeExchange, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """Trade the one-time `login_code` for a fresh token pair (as the token endpoint's)."""
    if not body.login_code:
        raise OAuthError("invalid_request", "The login_code parameter is required.")
    if len(body.login_code) > 512:
        raise OAuthError("invalid_grant", "The login code is invalid, expired or already used.")
    pair = await service.exchange_login_code(session, settings, body.login_code)
    content: dict[str, Any] = pair.model_dump()
    return JSONResponse(content, headers=NO_STORE)
