"""Dependencies that authenticate the caller and check what they may do.

Which session a route uses (the one rule): a route runs on `SessionDep`, the request's one
transaction, committed before the response is sent. A GET route that writes nothing reads
through `ReadSessions` instead, `async with reads() as session:` around its reads
(autocommit: a SELECT is one round trip, no BEGIN or COMMIT; `ReadConnections`, the same
without a session, where the reads are Core statements only), and so does every dependency
it takes, each closing its session before the next opens, so a request never holds two at
once: `OptionalAuth`, a loader such as `ReadablePoemDep`, and `Viewer`, the caller of a GET
route that needs a login (checked on a read session of its own: never change it). A route
that writes, or checks a role (`CurrentUser`, `FreshUser`, `Admin`, `Instructor`), stays on
`SessionDep`: the caller was loaded there, and the route may change it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from techtribe.auth.models import Role, User
from techtribe.auth.service import AuthContext, authenticate
from techtribe.config import SettingsDep, app_settings
from techtribe.db import SessionDep, read_sessions
from techtribe.errors import Forbidden, Unauthorized
from techtribe.openapi import raises

# The password grant and the refresh grant share the one token endpoint.
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105

# The one bearer dependency: the OAuth2 password flow's token, as /docs shows it.
# `auto_error=False`: a missing token becomes our own 401 problem, not FastAPI's.
bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    refreshUrl=TOKEN_URL,
    scheme_name="OAuth2PasswordBearer",
    auto_error=False,
)
BearerToken = Annotated[str | None, Depends(bearer)]


def _sent(token: str | None) -> str:
    if not token:
        raise Unauthorized("Sign in and send the access token as `Authorization: Bearer <token>`.")
    return token


async def current_auth(
    token: BearerToken, session: SessionDep, settings: SettingsDep
) -> AuthContext:
    """The caller's login, checked on the request's session: `401` without a valid token."""
    return await authenticate(session, settings, _sent(token))


async def current_viewer(token: BearerToken, request: Request) -> User:
    """The caller of a GET route, checked on a read session of its own (no transaction):
    `401` without a valid token. Detached from any session: read it, never change it."""
    return (await _authenticate_on_read_session(request, _sent(token))).user


async def optional_auth(token: BearerToken, request: Request) -> AuthContext | None:
    """The caller's login if they sent a token (a public read that shows more to members)."""
    if not token:
        return None
    return await _authenticate_on_read_session(request, token)


async def _authenticate_on_read_session(request: Request, token: str) -> AuthContext:
    # The read sessions and the settings are asked of their owners here rather than taken
    # as sub-dependencies: FastAPI solves each of those on every request, 80 Python calls
    # apiece, and these two checks sit on the busiest reads (a course page), most of them
    # anonymous (docs/performance.md).
    reads = await read_sessions(request)
    async with reads() as session:
        return await authenticate(session, await app_settings(request), token)


# A route that needs the login itself (its id, its freshness) takes `AuthDep`.
AuthDep = Annotated[AuthContext, Depends(current_auth)]


async def current_user(ctx: AuthDep) -> User:
    return ctx.user


@raises(401, "fresh_token_required")
async def current_user_fresh(ctx: AuthDep) -> User:
    if not ctx.fresh:
        raise Unauthorized(
            "This action needs a fresh login: sign in with your password again.",
            code="fresh_token_required",
        )
    return ctx.user


async def fresh_admin(ctx: AuthDep) -> User:
    """An admin (as stored now) holding a fresh token: for changes to other members' powers."""
    if ctx.user.role != Role.admin:
        raise Forbidden("Only admin accounts may do this.")
    return await current_user_fresh(ctx)


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """The caller's role as stored now (not as the token says) must be one of `roles`."""

    @raises(403, "forbidden")
    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise Forbidden(f"Only {' or '.join(roles)} accounts may do this.")
        return user

    return check


CurrentUser = Annotated[User, Depends(current_user)]
Viewer = Annotated[User, Depends(current_viewer)]
FreshUser = Annotated[User, Depends(current_user_fresh)]
OptionalAuth = Annotated[AuthContext | None, Depends(optional_auth)]
Admin = Annotated[User, Depends(require_role(Role.admin))]
FreshAdmin = Annotated[User, Depends(fresh_admin)]
Instructor = Annotated[User, Depends(require_role(Role.instructor, Role.admin))]
