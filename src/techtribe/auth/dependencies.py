"""Dependencies that authenticate the caller and check what they may do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.service import AuthContext, authenticate
from techtribe.config import Settings
from techtribe.db import ReadSessionDep, SessionDep
from techtribe.errors import Forbidden, Unauthorized
from techtribe.openapi import raises
from techtribe.users.models import Role, User


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in the thread pool, on every request.
    return settings_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]


# The password grant and the refresh grant share the one token endpoint.
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105


class _Bearer(OAuth2PasswordBearer):
    """The OAuth2 password flow's bearer token, as /docs shows it, and its check, in one
    dependency.

    These run on nearly every route, and FastAPI solves each level of dependencies on every
    request (about 80 Python calls a level): reading the token in a sub-dependency of the
    check, with the settings in another, was a tenth of a course page. `auto_error=False`:
    a missing token becomes our own 401 problem, not FastAPI's.
    """

    def __init__(self, *, required: bool, user_only: bool = False) -> None:
        super().__init__(
            tokenUrl=TOKEN_URL,
            refreshUrl=TOKEN_URL,
            scheme_name="OAuth2PasswordBearer",
            auto_error=False,
        )
        self.required = required
        self.user_only = user_only

    async def check(self, request: Request, session: AsyncSession) -> AuthContext | User | None:
        token = await super().__call__(request)
        if not token:
            if self.required:
                raise Unauthorized(
                    "Sign in and send the access token as `Authorization: Bearer <token>`."
                )
            return None
        ctx = await authenticate(session, settings_of(request), token)
        return ctx.user if self.user_only else ctx


class _WriteBearer(_Bearer):
    """Checked on the request's session, the one the route writes through."""

    async def __call__(  # type: ignore[override]
        self, request: Request, session: SessionDep
    ) -> AuthContext | User | None:
        return await self.check(request, session)


class _ReadBearer(_Bearer):
    """Checked on the read-only session, for routes that only read (`ReadSessionDep`)."""

    async def __call__(  # type: ignore[override]
        self, request: Request, session: ReadSessionDep
    ) -> AuthContext | User | None:
        return await self.check(request, session)


current_auth = _WriteBearer(required=True)
AuthDep = Annotated[AuthContext, Depends(current_auth)]
# A route that needs the login too takes `AuthDep` alone (`ctx.user`), not both: they are
# two checks, two look-ups.
current_user = _WriteBearer(required=True, user_only=True)
reader_auth = _ReadBearer(required=True, user_only=True)
# For public reads that show more to a signed-in caller.
optional_auth = _ReadBearer(required=False)


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
# The caller, for a route that only reads through `ReadSessionDep`.
CurrentReader = Annotated[User, Depends(reader_auth)]
FreshUser = Annotated[User, Depends(current_user_fresh)]
OptionalAuth = Annotated[AuthContext | None, Depends(optional_auth)]
Admin = Annotated[User, Depends(require_role(Role.admin))]
FreshAdmin = Annotated[User, Depends(fresh_admin)]
Instructor = Annotated[User, Depends(require_role(Role.instructor, Role.admin))]
