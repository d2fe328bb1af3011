"""`/auth/oidc`: sign in with Google (or another configured OpenID Connect provider)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from techtribe.auth.oidc import service
from techtribe.auth.oidc.providers import OIDCRegistry, ProviderClient
from techtribe.auth.oidc.schemas import LoginCodeExchange, ProviderRead
from techtribe.auth.schemas import TokenErrorResponse, TokenResponse
from techtribe.config import SettingsDep
from techtribe.db import SessionDep
from techtribe.errors import NO_STORE, OAuthError
from techtribe.openapi import PROBLEM_REF, schema_ref

router = APIRouter(prefix="/auth/oidc", tags=["auth"])
# `GET /auth/providers` lists what the routes above serve, one level up the path.
providers_router = APIRouter(prefix="/auth", tags=["auth"])
# The list changes only with the configuration (a restart): shared caches may keep it.
# (A rule applying `no-store` to every `/auth/` response overrides this, and that's fine:
# clients ask once per page view.)
_PROVIDERS_CACHE = {"Cache-Control": "public, max-age=300"}

# Redirects carry one-time values: never cached, never leaked through a Referer.
_REDIRECT_HEADERS = {**NO_STORE, "Referrer-Policy": "no-referrer"}
_LOCATION = {
    "Location": {"description": "Where the browser goes next.", "schema": {"type": "string"}}
}
_NOT_FOUND: dict[str, Any] = {
    "description": "No such provider, or it is not configured (`not_found`).",
    "content": {"application/problem+json": {"schema": PROBLEM_REF}},
}
# The body is read by hand (see `exchange`), so its schema is declared here.
_EXCHANGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": schema_ref(LoginCodeExchange)}},
    }
}


def get_provider(
    request: Request,
    provider: Annotated[
        str, Path(description="The provider's name: `google`, or an `OIDC_PROVIDERS` entry.")
    ],
) -> ProviderClient:
    registry: OIDCRegistry = request.app.state.oidc
    return service.provider_client(registry, provider)


def get_http(request: Request) -> httpx.AsyncClient:
    http: httpx.AsyncClient = request.app.state.oidc_http
    return http


ProviderDep = Annotated[ProviderClient, Depends(get_provider)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
# The provider's query parameters are plain optional strings: whatever they hold, the
# callback answers with a redirect, never a 422.
CallbackParam = Annotated[str | None, Query(description="Human-readable, ignored.")]


# Both the authorize and the callback paths are under it.
_COOKIE_PATH = "/api/v1/auth/oidc/"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=302, headers=_REDIRECT_HEADERS)


@router.get(
    "/{provider}/authorize",
    operation_id="auth-oidc-authorize",
    status_code=302,
    response_class=RedirectResponse,
    summary="Start signing in with a provider",
    responses={
        302: {
            "description": "To the provider's authorization endpoint (or, if the provider "
            "can't be reached, to `return_to#error=provider_error`).",
            "headers": _LOCATION,
        },
        400: {
            "description": "`return_to` is not under `OIDC_RETURN_ALLOWLIST` "
            "(`invalid_return_to`).",
            "content": {"application/problem+json": {"schema": PROBLEM_REF}},
        },
        404: _NOT_FOUND,
    },
)
async def authorize(
    client: ProviderDep,
    session: SessionDep,
    settings: SettingsDep,
    http: HttpDep,
    return_to: Annotated[
        str | None,
        Query(
            description="Where the browser comes back to (`#login_code=...` or "
            "`#error=...` is appended); it must start with an `OIDC_RETURN_ALLOWLIST` "
            "entry. Default: `PUBLIC_BASE_URL/`."
        ),
    ] = None,
) -> RedirectResponse:
    """Open in the browser: redirects to the provider with `state`, `nonce` and PKCE (S256),
    and sets a short-lived cookie that binds the state to this browser."""
    url, state = await service.start_login(
        session, settings, http, client, return_to=return_to or f"{settings.public_base_url}/"
    )
    response = _redirect(url)
    if state is not None:
        response.set_cookie(
            service.state_cookie(state),
            state,
            max_age=int(service.STATE_TTL.total_seconds()),
            path=_COOKIE_PATH,
            secure=settings.public_base_url.startswith("https://"),
            httponly=True,
            # Lax: sent on the provider's top-level redirect back, not on cross-site posts.
            samesite="lax",
        )
    return response


@router.get(
    "/{provider}/callback",
    operation_id="auth-oidc-callback",
    status_code=302,
    response_class=RedirectResponse,
    summary="Provider's redirect back (not for clients)",
    responses={
        302: {
            "description": "To `return_to#login_code=<one-time code>`, or on any failure to "
            "`return_to#error=<code>` (`access_denied`, `invalid_id_token`, "
            "`email_not_verified`, `provider_error`); without a valid `state` to "
            "`PUBLIC_BASE_URL/#error=invalid_state`.",
            "headers": _LOCATION,
        },
        404: _NOT_FOUND,
    },
)
async def callback(
    request: Request,
    client: ProviderDep,
    session: SessionDep,
    settings: SettingsDep,
    http: HttpDep,
    state: Annotated[str | None, Query(description="The state `authorize` sent.")] = None,
    code: Annotated[str | None, Query(description="The authorization code.")] = None,
    error: Annotated[
        str | None, Query(description="RFC 6749 4.1.2.1 error, e.g. `access_denied`.")
    ] = None,
    error_description: CallbackParam = None,
    iss: Annotated[str | None, Query(description="The issuer (RFC 9207), if sent.")] = None,
) -> RedirectResponse:
    """Where the provider sends the browser back, with `code` and `state` (or `error`)."""
    # error_description is documented, not used: only `error` is a code we can act on.
    given = {"state": state, "code": code, "error": error, "iss": iss}
    params = {name: value for name, value in given.items() if value is not None}
    response = _redirect(
        await service.finish_login(session, settings, http, client, params, request.cookies)
    )
    if state is not None and 0 < len(state) <= 512 and state.isascii():
        # The flow is over, whatever its outcome.
        response.delete_cookie(
            service.state_cookie(state),
            path=_COOKIE_PATH,
            secure=settings.public_base_url.startswith("https://"),
            httponly=True,
            samesite="lax",
        )
    return response


async def _login_code(request: Request) -> str:
    """`login_code` from the JSON body; anything else is `400 invalid_request`."""
    body: object
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or absurdly nested
        raise OAuthError("invalid_request", 'Send a JSON body {"login_code": "..."}.') from None
    login_code = body.get("login_code") if isinstance(body, dict) else None
    if login_code is None or login_code == "":
        raise OAuthError("invalid_request", "The login_code parameter is required.")
    if not isinstance(login_code, str):
        raise OAuthError("invalid_request", "login_code must be a string.")
    return login_code


@router.post(
    "/exchange",
    operation_id="auth-oidc-exchange",
    response_model=TokenResponse,
    summary="Trade a login code for tokens",
    responses={
        200: {"description": "A fresh login, as the token endpoint answers it (`no-store`)."},
        400: {
            "model": TokenErrorResponse,
            "description": "RFC 6749 error: `invalid_grant` (unknown, expired or used code; "
            "deactivated account) or `invalid_request` (no `login_code`).",
        },
    },
    openapi_extra=_EXCHANGE_BODY,
)
async def exchange(request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """Trade the one-time `login_code` (valid once, for 60 seconds) for a fresh token pair."""
    login_code = await _login_code(request)
    # Ours are short and ASCII; anything else (a lone surrogate can't even be hashed) is
    # no code of ours.
    if len(login_code) > 512 or not login_code.isascii():
        raise OAuthError("invalid_grant", "The login code is invalid, expired or already used.")
    pair = await service.exchange_login_code(session, settings, login_code)
    content: dict[str, Any] = pair.model_dump()
    return JSONResponse(content, headers=NO_STORE)


@providers_router.get(
    "/providers",
    response_model=list[ProviderRead],
    summary="List the sign-in providers",
    responses={200: {"description": "The configured providers; `[]` when there are none."}},
)
async def list_providers(request: Request, settings: SettingsDep) -> JSONResponse:
    """The configured sign-in providers (Google, `OIDC_PROVIDERS` entries), public."""
    registry: OIDCRegistry = request.app.state.oidc
    providers = service.sign_in_options(registry, settings)
    content = [provider.model_dump() for provider in providers]
    return JSONResponse(content, headers=_PROVIDERS_CACHE)
