"""`/auth`: register, the OAuth2 token endpoint, logout, e-mail verification, password reset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from techtribe.auth import service
from techtribe.auth.dependencies import AuthDep, FreshUser
from techtribe.auth.schemas import (
    PASSWORD_GRANT_EXAMPLE,
    Accepted,
    PasswordChange,
    PasswordGrant,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshTokenGrant,
    RegisterRequest,
    TokenErrorResponse,
    TokenResponse,
    UserRead,
    VerifyEmailRequest,
)
from techtribe.config import SettingsDep
from techtribe.db import SessionDep
from techtribe.errors import NO_STORE, OAuthError
from techtribe.openapi import schema_ref

router = APIRouter(prefix="/auth", tags=["auth"])
API_USERS_ME = "/api/v1/users/me"

_TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": TokenErrorResponse,
        "description": "RFC 6749 error: `invalid_grant` (wrong e-mail or password, spent or "
        "revoked refresh token, deactivated account), `invalid_request` (a missing "
        "parameter), `unsupported_grant_type`.",
    },
    429: {
        "model": TokenErrorResponse,
        "description": "Too many failed attempts (see Retry-After).",
    },
}


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserRead)
async def register(
    body: RegisterRequest, response: Response, session: SessionDep, settings: SettingsDep
) -> Any:
    """Create a `student` account and mail a link to confirm the address."""
    user = await service.register(
        session, settings, email=body.email, password=body.password, full_name=body.full_name
    )
    response.headers["Location"] = f"{API_USERS_ME}"
    return user


# The form is read by hand (`_token_form`), so a missing field is RFC 6749's
# `400 invalid_request`, not a 422; its two shapes are declared here for generated clients.
_GRANTS = {"password": schema_ref(PasswordGrant), "refresh_token": schema_ref(RefreshTokenGrant)}
_TOKEN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "oneOf": list(_GRANTS.values()),
                    "discriminator": {
                        "propertyName": "grant_type",
                        "mapping": {grant: ref["$ref"] for grant, ref in _GRANTS.items()},
                    },
                },
                "example": PASSWORD_GRANT_EXAMPLE,
            }
        },
    }
}


async def _token_form(request: Request) -> dict[str, str | None]:
    """The token endpoint's parameters; a malformed form is `400 invalid_request`."""
    try:
        form: FormData = await request.form()
    except HTTPException as exc:
        if exc.status_code == 413:  # streamed past MAX_BODY_BYTES: the 413 handler answers
            raise
        raise OAuthError("invalid_request", "The body is not a valid form.") from None
    fields = ("grant_type", "username", "password", "refresh_token")
    values: dict[str, str | None] = {}
    for name in fields:
        value = form.get(name)
        if value is not None and not isinstance(value, str):
            raise OAuthError("invalid_request", f"{name} must be a plain form field.")
        values[name] = value
    return values


@router.post(
    "/token", response_model=TokenResponse, responses=_TOKEN_ERRORS, openapi_extra=_TOKEN_BODY
)
async def token(request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """OAuth2 token endpoint (form-encoded): the `password` and `refresh_token` grants.

    Errors are RFC 6749 section 5.2 bodies (`TokenErrorResponse`), not problem details.
    """
    form = await _token_form(request)
    grant_type, username = form["grant_type"], form["username"]
    password, refresh_token = form["password"], form["refresh_token"]
    if not grant_type:
        raise OAuthError("invalid_request", "The grant_type parameter is required.")
    if any("\x00" in (value or "") for value in (username, password, refresh_token)):
        raise OAuthError("invalid_request", "Parameters may not contain NUL characters.")
    if grant_type == "password":
        if not username or not password:
            raise OAuthError("invalid_request", "username and password are required.")
        address = request.client.host if request.client else "unknown"
        pair = await service.login_with_password(
            session,
            settings,
            request.app.state.login_throttle,
            email=username,
            password=password,
            address=address,
        )
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise OAuthError("invalid_request", "The refresh_token parameter is required.")
        pair = await service.refresh(session, settings, refresh_token)
    else:
        raise OAuthError("unsupported_grant_type", "Use grant_type=password or refresh_token.")
    return JSONResponse(pair.model_dump(), headers=NO_STORE)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: AuthDep, session: SessionDep) -> Response:
    """Revoke this access token and every token of its login, on every server instance."""
    await service.revoke_sessions(session, ctx.user.id, reason="logout", only_id=ctx.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/verify-email", status_code=status.HTTP_204_NO_CONTENT)
async def verify_email(body: VerifyEmailRequest, session: SessionDep) -> Response:
    await service.verify_email(session, body.token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def password_reset(
    body: PasswordResetRequest, session: SessionDep, settings: SettingsDep
) -> Accepted:
    """Mail a reset link; the answer is the same whether or not the account exists."""
    await service.request_password_reset(session, settings, body.email)
    return Accepted(detail="If an account uses this e-mail, a reset link is on its way.")


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def password_reset_confirm(
    body: PasswordResetConfirm, session: SessionDep, settings: SettingsDep
) -> Response:
    """Set a new password with the mailed token; every session of the account is revoked."""
    await service.confirm_password_reset(
        session, settings, token=body.token, new_password=body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# `/users/me/password`: the URL names the member, the rule is auth's.
account_router = APIRouter(tags=["users"])


@account_router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, ctx: AuthDep, _: FreshUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """Needs a fresh token. This login stays signed in; every other one is revoked."""
    await service.change_password(
        session, settings, ctx, current=body.current_password, new=body.new_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
