"""Dependencies that authenticate the caller and check what they may do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from techtribe.auth.service import AuthContext, authenticate
from techtribe.config import Settings
from techtribe.db import ReadSessionDep, SessionDep
from techtribe.errors import Forbidden, Unauthorized
from techtribe.users.models import Role, User

# auto_error=False: a missing token becomes our own 401 problem, not FastAPI's.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in the thread pool, on every request.
    return settings_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]


def _required(token: str | None) -> str:
    if not token:
        raise Unauthorized("Sign in and send the access token as `Authorization: Bearer <token>`.")
    return token


# The bearer checks below run on almost every request. They read the settings off the
# request rather than through `SettingsDep`: FastAPI's solving of each sub-dependency costs
# about 80 Python calls per request, a twentieth of a course page.


async def current_auth(
    request: Request,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> AuthContext:
    return await authenticate(session, settings_of(request), _required(token))


AuthDep = Annotated[AuthContext, Depends(current_auth)]


async def current_user(
    request: Request,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    # `current_auth`'s check, not a layer over it: one dependency level less on nearly every
    # route. A route that needs the login too takes `AuthDep` alone (`ctx.user`), not both.
    return (await authenticate(session, settings_of(request), _required(token))).user


async def current_user_fresh(ctx: AuthDep) -> User:
    if not ctx.fresh:
        raise Unauthorized(
            "This action needs a fresh login: sign in with your password again.",
            code="fresh_token_required",
        )
    return ctx.user


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """The caller's role as stored now (not as the token says) must be one of `roles`."""

    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise Forbidden(f"Only {' or '.join(roles)} accounts may do this.")
        return user

    return check


async def reader_auth(
    request: Request,
    session: ReadSessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """`current_user` for routes that only read: checked on the route's read-only session."""
    return (await authenticate(session, settings_of(request), _required(token))).user


async def optional_auth(
    request: Request,
    session: ReadSessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> AuthContext | None:
    """For public reads that show more to a signed-in caller (on the read-only session)."""
    return await authenticate(session, settings_of(request), token) if token else None


CurrentUser = Annotated[User, Depends(current_user)]
# The caller, for a route that only reads through `ReadSessionDep`.
CurrentReader = Annotated[User, Depends(reader_auth)]
FreshUser = Annotated[User, Depends(current_user_fresh)]
OptionalAuth = Annotated[AuthContext | None, Depends(optional_auth)]
Admin = Annotated[User, Depends(require_role(Role.admin))]
Instructor = Annotated[User, Depends(require_role(Role.instructor, Role.admin))]
