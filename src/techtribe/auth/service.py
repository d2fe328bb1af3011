"""Sign-up, login, token rotation and revocation, e-mail verification and password reset."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.emails import normal_email
from techtribe.auth.models import AuthSession, OneTimeToken, RefreshToken, Role, User
from techtribe.auth.schemas import TokenResponse
from techtribe.auth.throttle import LoginThrottle
from techtribe.config import Settings
from techtribe.db import utcnow
from techtribe.errors import Conflict, DomainError, InvalidToken400, OAuthError, Unauthorized
from techtribe.notifications.outbox import enqueue
from techtribe.notifications.sealing import sealer_for
from techtribe.security import (
    TokenError,
    decode_jwt,
    encode_jwt,
    hash_password,
    new_opaque_token,
    token_digest,
    verify_password,
)


class EmailTaken(Conflict):
    code, detail_text = "email_taken", "An account with this e-mail already exists."


class WrongPassword(DomainError):
    status, code, detail_text = 400, "invalid_password", "The current password is wrong."


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


@dataclass(frozen=True)
class AuthContext:
    """Who is calling, through which login, and whether the token is fresh."""

    user: User
    session_id: uuid.UUID
    fresh: bool


# --- tokens -------------------------------------------------------------------------


def _secret(settings: Settings) -> str:
    return settings.jwt_secret.get_secret_value()


async def issue_tokens(
    session: AsyncSession, settings: Settings, user: User, login: AuthSession, *, fresh: bool
) -> TokenResponse:
    """A new access token and a new refresh token for `login` (its family)."""
    now = utcnow()
    access_ttl = timedelta(minutes=settings.access_token_minutes)
    access = encode_jwt(
        {
            "sub": str(user.id),
            "type": "access",
            "jti": uuid.uuid4().hex,
            "sid": str(login.id),
            "iat": now,
            "exp": now + access_ttl,
            "role": user.role,
            "fresh": fresh,
        },
        secret=_secret(settings),
        algorithm=settings.jwt_algorithm,
    )
    refresh_jti = uuid.uuid4().hex
    refresh_exp = now + timedelta(days=settings.refresh_token_days)
    refresh = encode_jwt(
        {
            "sub": str(user.id),
            "type": "refresh",
            "jti": refresh_jti,
            "sid": str(login.id),
            "iat": now,
            "exp": refresh_exp,
        },
        secret=_secret(settings),
        algorithm=settings.jwt_algorithm,
    )
    session.add(
        RefreshToken(jti=refresh_jti, session_id=login.id, issued_at=now, expires_at=refresh_exp)
    )
    return TokenResponse(
        access_token=access, expires_in=int(access_ttl.total_seconds()), refresh_token=refresh
    )


async def revoke_sessions(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    reason: str,
    except_id: uuid.UUID | None = None,
    only_id: uuid.UUID | None = None,
) -> None:
    """Revoke a user's logins: all, all but `except_id`, or just `only_id`."""
    stmt = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    if except_id is not None:
        stmt = stmt.where(AuthSession.id != except_id)
    if only_id is not None:
        stmt = stmt.where(AuthSession.id == only_id)
    await session.execute(stmt)


# One indexed query per request: the user and the login, both by primary key. Built once:
# a statement made per request costs more to prepare than to run.
_CALLER = (
    select(User, AuthSession.revoked_at)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(User.id == bindparam("user_id"), AuthSession.id == bindparam("session_id"))
)


async def authenticate(session: AsyncSession, settings: Settings, token: str) -> AuthContext:
    """Check a bearer access token against the database: user active, login not revoked."""
    try:
        claims = decode_jwt(token, secret=_secret(settings), algorithm=settings.jwt_algorithm)
    except TokenError as exc:
        raise Unauthorized(
            str(exc), code="token_expired" if exc.expired else "invalid_token"
        ) from exc
    if claims.get("type") != "access":
        raise Unauthorized("This is not an access token.", code="invalid_token")
    try:
        user_id, session_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("The token is malformed.", code="invalid_token") from exc
    row = (await session.execute(_CALLER, {"user_id": user_id, "session_id": session_id})).first()
    if row is None:
        raise Unauthorized("The token does not belong to a known login.", code="invalid_token")
    user, revoked_at = row
    if user.is_deleted:
        raise Unauthorized("The account was deleted.", code="token_revoked")
    if not user.is_active:
        raise Unauthorized("The account is deactivated.", code="inactive_user")
    if revoked_at is not None:
        raise Unauthorized("The token was revoked.", code="token_revoked")
    return AuthContext(user=user, session_id=session_id, fresh=claims.get("fresh") is True)


# --- grants ---------------------------------------------------------------------------


async def login_with_password(
    session: AsyncSession,
    settings: Settings,
    throttle: LoginThrottle,
    *,
    email: str,
    password: str,
    address: str,
) -> TokenResponse:
    """The password grant: a fresh token pair for a new login."""
    account = normal_email(email)
    async with throttle.attempt(account, address) as attempt:
        user = await session.scalar(select(User).where(User.email == account))
        # Unknown e-mail and wrong password do the same work and give the same answer.
        password_hash = user.password_hash if user else None
        ok = await verify_password(password, password_hash, settings.bcrypt_rounds)
        if user is None or not ok:
            await attempt.failed()
            raise invalid_grant("Invalid e-mail or password.")
    if not user.is_active:
        raise invalid_grant("The account is deactivated.")
    login = AuthSession(user_id=user.id)
    session.add(login)
    await session.flush()
    return await issue_tokens(session, settings, user, login, fresh=True)


async def refresh(session: AsyncSession, settings: Settings, token: str) -> TokenResponse:
    """The refresh_token grant: rotate; a spent token revokes its whole login."""
    try:
        claims = decode_jwt(token, secret=_secret(settings), algorithm=settings.jwt_algorithm)
    except TokenError as exc:
        raise invalid_grant(str(exc)) from exc
    if claims.get("type") != "refresh":
        raise invalid_grant("This is not a refresh token.")
    stored = await session.get(RefreshToken, claims["jti"])
    if stored is None:
        raise invalid_grant("Unknown refresh token.")
    login = await session.get(AuthSession, stored.session_id)
    user = await session.get(User, login.user_id) if login else None
    if login is None or user is None or login.revoked_at is not None:
        raise invalid_grant("The login was revoked.")
    if user.is_deleted or not user.is_active:
        raise invalid_grant("The account is deactivated.")
    # Spend the token with a conditional update: of two racing uses, exactly one wins.
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == stored.jti, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        # Reuse: someone holds a copy. End this login (refresh and access tokens) for good.
        login.revoked_at, login.revoked_reason = utcnow(), "refresh_reuse"
        await session.commit()
        raise invalid_grant("The refresh token was already used; the login has been revoked.")
    return await issue_tokens(session, settings, user, login, fresh=False)


# --- accounts -------------------------------------------------------------------------


async def register(
    session: AsyncSession, settings: Settings, *, email: str, password: str, full_name: str
) -> User:
    """A new `student`, with a welcome message carrying the e-mail verification link."""
    password_hash = await hash_password(password, settings.bcrypt_rounds)
    user = User(email=email, password_hash=password_hash, full_name=full_name, role=Role.student)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise EmailTaken() from None
    token = await _one_time_token(
        session, user, "verify_email", timedelta(hours=settings.email_verify_token_hours)
    )
    await enqueue(
        session,
        kind="welcome",
        recipient=email,
        user_id=user.id,
        data={"name": full_name, "valid_hours": settings.email_verify_token_hours},
        token=token,
        sealer=sealer_for(settings),
    )
    return user


async def _one_time_token(session: AsyncSession, user: User, purpose: str, ttl: timedelta) -> str:
    token = new_opaque_token()
    session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_digest=token_digest(token),
            expires_at=utcnow() + ttl,
        )
    )
    return token


async def _spend_one_time_token(session: AsyncSession, token: str, purpose: str) -> User:
    """Mark a token used (once, even under races) and return its user; else 400 invalid_token."""
    now = utcnow()
    record = await session.scalar(
        select(OneTimeToken).where(
            OneTimeToken.token_digest == token_digest(token), OneTimeToken.purpose == purpose
        )
    )
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise InvalidToken400()
    spent = await session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == record.id, OneTimeToken.used_at.is_(None))
        .values(used_at=now)
    )
    user = await session.get(User, record.user_id)
    if spent.rowcount != 1 or user is None or user.is_deleted:  # type: ignore[attr-defined]
        raise InvalidToken400()
    return user


async def verify_email(session: AsyncSession, token: str) -> None:
    user = await _spend_one_time_token(session, token, "verify_email")
    user.email_verified = True


async def request_password_reset(session: AsyncSession, settings: Settings, email: str) -> None:
    """Mail a reset link if the account exists; the caller answers the same either way."""
    # The row lock makes concurrent requests for one account (on any process) take turns,
    # so the count below can't be read twice before either insert.
    user = await session.scalar(
        select(User).where(User.email == email, User.is_active.is_(True)).with_for_update()
    )
    if user is None or user.email is None:
        return
    if await _recent_resets(session, user) >= settings.password_reset_max_per_hour:
        return  # the mailbox isn't flooded; the answer doesn't tell
    # Only the newest link works.
    await session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == "password_reset",
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    token = await _one_time_token(
        session, user, "password_reset", timedelta(minutes=settings.password_reset_token_minutes)
    )
    await enqueue(
        session,
        kind="password_reset",
        recipient=user.email,
        user_id=user.id,
        data={"name": user.full_name, "valid_minutes": settings.password_reset_token_minutes},
        token=token,
        sealer=sealer_for(settings),
    )


async def _recent_resets(session: AsyncSession, user: User) -> int:
    """Reset links issued to `user` in the last hour (spent and superseded ones too)."""
    count = await session.scalar(
        select(func.count())
        .select_from(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == "password_reset",
            OneTimeToken.created_at > utcnow() - timedelta(hours=1),
        )
    )
    return count or 0


async def confirm_password_reset(
    session: AsyncSession, settings: Settings, *, token: str, new_password: str
) -> None:
    user = await _spend_one_time_token(session, token, "password_reset")
    user.password_hash = await hash_password(new_password, settings.bcrypt_rounds)
    # The link reached the inbox, which proves the address.
    user.email_verified = True
    await revoke_sessions(session, user.id, reason="password_reset")


async def change_password(
    session: AsyncSession, settings: Settings, ctx: AuthContext, *, current: str, new: str
) -> None:
    user = ctx.user
    if not await verify_password(current, user.password_hash, settings.bcrypt_rounds):
        raise WrongPassword()
    user.password_hash = await hash_password(new, settings.bcrypt_rounds)
    await revoke_sessions(session, user.id, reason="password_changed", except_id=ctx.session_id)


async def forget_member(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Account closure: every login of the member ends, and their one-time links die."""
    await revoke_sessions(session, user_id, reason="account_deleted")
    await session.execute(delete(OneTimeToken).where(OneTimeToken.user_id == user_id))
