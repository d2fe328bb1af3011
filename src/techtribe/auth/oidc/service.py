"""The sign-in flow: authorize (state, nonce, PKCE), callback (code exchange, ID token,
account), and the exchange of the one-time login code for a normal token pair.

Tokens never travel in a URL: the callback hands the client a login code in the URL
fragment, valid once for 60 seconds, and the client trades it for tokens in a POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.emails import normal_email
from techtribe.auth.models import AuthSession, Role, User
from techtribe.auth.oidc.allowlist import is_allowed
from techtribe.auth.oidc.models import OIDCIdentity, OIDCLoginCode, OIDCState
from techtribe.auth.oidc.providers import OIDCRegistry, ProviderClient, ProviderError
from techtribe.auth.oidc.schemas import ProviderRead
from techtribe.auth.schemas import TokenResponse
from techtribe.auth.service import invalid_grant, issue_tokens, revoke_sessions
from techtribe.config import Settings
from techtribe.db import utcnow
from techtribe.errors import DomainError, NotFound
from techtribe.security import (
    ID_TOKEN_ALGORITHMS,
    TokenError,
    decode_id_token,
    token_digest,
    unverified_jwt_header,
)

log = logging.getLogger("techtribe.oidc")

STATE_TTL = timedelta(minutes=10)
LOGIN_CODE_TTL = timedelta(seconds=60)
# Spent and expired rows are kept a while for inspection, then swept by `authorize`.
_KEEP_EXPIRED = timedelta(days=1)
SCOPE = "openid email profile"


class UnknownProvider(NotFound):
    detail_text = "There is no such sign-in provider, or it is not configured."


class InvalidReturnTo(DomainError):
    status, code, detail_text = (
        400,
        "invalid_return_to",
        "return_to must be an absolute URL under one of OIDC_RETURN_ALLOWLIST's prefixes.",
    )


class LoginFailed(Exception):
    """The callback failed; `code` goes to the client in the fragment of `return_to`."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def provider_client(registry: OIDCRegistry, name: str) -> ProviderClient:
    client = registry.get(name)
    if client is None:
        raise UnknownProvider()
    return client


def sign_in_options(registry: OIDCRegistry, settings: Settings) -> list[ProviderRead]:
    """The configured providers, each with the address where a browser starts signing in."""
    return [
        ProviderRead(
            name=provider.name,
            display_name=provider.display_name,
            authorize_url=f"{settings.public_base_url}/api/v1/auth/oidc/{provider.name}/authorize",
        )
        for provider in registry.providers()
    ]


def redirect_uri(settings: Settings, provider: str) -> str:
    return f"{settings.public_base_url}/api/v1/auth/oidc/{provider}/callback"


def state_cookie(state: str) -> str:
    """The name of the cookie that binds `state` to the browser that started the flow.

    One per flow (named after the state's digest), so two sign-ins started in two tabs of
    one browser don't overwrite each other's.
    """
    return f"techtribe_oidc_{token_digest(state)[:16]}"


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- authorize -----------------------------------------------------------------------


async def start_login(
    session: AsyncSession,
    settings: Settings,
    http: httpx.AsyncClient,
    client: ProviderClient,
    *,
    return_to: str,
) -> tuple[str, str | None]:
    """Remember a new state, nonce and PKCE verifier; the provider's authorization URL and
    the state (the browser keeps it in a cookie: see `state_cookie`).

    A provider that can't be reached sends the browser to `return_to#error=provider_error`.
    """
    if not is_allowed(return_to, settings.oidc_return_prefixes):
        raise InvalidReturnTo()
    try:
        metadata = await client.metadata(http)
    except ProviderError as exc:
        # return_to is trusted now: tell the client there, as the callback would.
        log.warning("OIDC %s: discovery failed: %s", client.provider.name, exc)
        return f"{return_to}#error=provider_error", None
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    now = utcnow()
    await session.execute(delete(OIDCState).where(OIDCState.expires_at < now - _KEEP_EXPIRED))
    await session.execute(
        delete(OIDCLoginCode).where(OIDCLoginCode.expires_at < now - _KEEP_EXPIRED)
    )
    session.add(
        OIDCState(
            state_digest=token_digest(state),
            provider=client.provider.name,
            nonce=nonce,
            code_verifier=verifier,
            return_to=return_to,
            created_at=now,
            expires_at=now + STATE_TTL,
        )
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.provider.client_id,
            "redirect_uri": redirect_uri(settings, client.provider.name),
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": _pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    return f"{metadata.authorization_endpoint}{separator}{query}", state


# --- callback ------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    nonce: str
    code_verifier: str
    return_to: str


async def _spend_state(session: AsyncSession, provider: str, state: str) -> _State | None:
    """Single use under races: only the UPDATE that finds it unspent and fresh gets it."""
    now = utcnow()
    row = (
        await session.execute(
            update(OIDCState)
            .where(
                OIDCState.state_digest == token_digest(state),
                OIDCState.provider == provider,
                OIDCState.used_at.is_(None),
                OIDCState.expires_at > now,
            )
            .values(used_at=now)
            .returning(OIDCState.nonce, OIDCState.code_verifier, OIDCState.return_to)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return _State(*row) if row else None


async def finish_login(
    session: AsyncSession,
    settings: Settings,
    http: httpx.AsyncClient,
    client: ProviderClient,
    params: dict[str, str],
    cookies: dict[str, str],
) -> str:
    """Where to send the browser: `return_to#login_code=...`, or `...#error=<code>`.

    `cookies`: the browser's. Its state cookie must hold the state, or this is not the
    browser that started the flow (login CSRF: someone else's code pushed on this one).
    """
    name = client.provider.name
    state = params.get("state", "")
    # Ours are short and ASCII (`token_urlsafe`): anything else is not worth a query.
    usable = 0 < len(state) <= 512 and state.isascii()
    spent = await _spend_state(session, name, state) if usable else None
    if spent is None:
        # No trusted return_to without a state of ours.
        log.info("OIDC %s: callback with a missing, unknown, spent or expired state", name)
        return f"{settings.public_base_url}/#error=invalid_state"
    bound = cookies.get(state_cookie(state), "")
    if not hmac.compare_digest(bound.encode(), state.encode()):
        # A state of ours, so return_to is trusted; the flow is spent either way.
        log.info("OIDC %s: callback from a browser that did not start this sign-in", name)
        return f"{spent.return_to}#error=invalid_state"
    try:
        user = await _complete(session, settings, http, client, spent, params)
    except LoginFailed as failure:
        log.info("OIDC %s: sign-in failed (%s): %s", name, failure.code, failure)
        return f"{spent.return_to}#error={failure.code}"
    code, now = secrets.token_urlsafe(32), utcnow()
    session.add(
        OIDCLoginCode(
            code_digest=token_digest(code),
            user_id=user.id,
            created_at=now,
            expires_at=now + LOGIN_CODE_TTL,
        )
    )
    return f"{spent.return_to}#login_code={code}"


async def _complete(
    session: AsyncSession,
    settings: Settings,
    http: httpx.AsyncClient,
    client: ProviderClient,
    state: _State,
    params: dict[str, str],
) -> User:
    # RFC 9207: a provider that names itself in the response must be the one we asked
    # (mix-up attacks between configured providers).
    if (iss := params.get("iss")) is not None and iss not in client.provider.issuers:
        raise LoginFailed("provider_error", f"the response names issuer {iss[:100]!r}")
    if error := params.get("error"):
        # RFC 6749 4.1.2.1: the user said no (access_denied), or the provider failed.
        failure = "access_denied" if error == "access_denied" else "provider_error"
        raise LoginFailed(failure, f"the provider answered error={error[:100]!r}")
    code = params.get("code")
    if not code or len(code) > 2048:
        raise LoginFailed("provider_error", "the provider sent no usable code")
    try:
        answer = await client.exchange_code(
            http,
            code=code,
            redirect_uri=redirect_uri(settings, client.provider.name),
            code_verifier=state.code_verifier,
        )
    except ProviderError as exc:
        raise LoginFailed("provider_error", f"code exchange failed: {exc}") from exc
    access_token = answer.get("access_token")
    claims = await _validated_id_token(
        http,
        client,
        answer["id_token"],
        nonce=state.nonce,
        access_token=access_token if isinstance(access_token, str) else None,
    )
    return await _account_for(session, client.provider.name, claims)


async def _validated_id_token(
    http: httpx.AsyncClient,
    client: ProviderClient,
    id_token: str,
    *,
    nonce: str,
    access_token: str | None,
) -> dict[str, Any]:
    """OIDC Core 3.1.3.7: signature, iss, aud, azp, exp, iat, nonce (and at_hash)."""
    provider = client.provider
    try:
        header = unverified_jwt_header(id_token)
    except TokenError as exc:
        raise LoginFailed("invalid_id_token", str(exc)) from exc
    if header.get("alg") not in ID_TOKEN_ALGORITHMS:
        raise LoginFailed("invalid_id_token", f"alg {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    try:
        key = await client.signing_key(http, kid if isinstance(kid, str) else None)
    except ProviderError as exc:
        raise LoginFailed("provider_error", f"fetching the keys failed: {exc}") from exc
    if key is None:
        raise LoginFailed("invalid_id_token", f"no signing key {kid!r} in the provider's JWKS")
    # RFC 7517 4.4: a key that names its algorithm is for that algorithm only.
    if key.get("alg") not in (None, header["alg"]):
        raise LoginFailed("invalid_id_token", f"key {kid!r} is not for alg {header['alg']!r}")
    try:
        claims = decode_id_token(
            id_token,
            key,
            audience=provider.client_id,
            issuers=provider.issuers,
            access_token=access_token,
        )
    except TokenError as exc:
        raise LoginFailed("invalid_id_token", str(exc)) from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    # OIDC Core 3.1.3.7 (3): rejected if it "contains additional audiences not trusted by
    # the Client"; we trust none but ourselves.
    if any(audience != provider.client_id for audience in audiences):
        raise LoginFailed("invalid_id_token", "the ID token is also meant for another client")
    azp = claims.get("azp")
    # OIDC Core 3.1.3.7 (4, 5): with several audiences azp is required; when present it
    # must be our client id (Google always sends it).
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != provider.client_id):
        raise LoginFailed("invalid_id_token", "azp is not our client id")
    token_nonce = claims.get("nonce")
    # Compared as bytes: compare_digest refuses non-ASCII str (a TypeError, a 500).
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode("utf-8", "surrogatepass"), nonce.encode()
    ):
        raise LoginFailed("invalid_id_token", "the nonce does not match")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255 or not _storable(sub):
        raise LoginFailed("invalid_id_token", "sub is not a string of 1-255 characters")
    return claims


def _storable(text: str) -> bool:
    """Text the database takes: no NUL, no lone surrogate (JSON allows both)."""
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


def _is_verified(claims: dict[str, Any]) -> bool:
    # Some providers send the string "true".
    return claims.get("email_verified") in (True, "true")


def _full_name(claims: dict[str, Any], email: str) -> str:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip() or not _storable(name):
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(
            part.strip()
            for part in parts
            if isinstance(part, str) and part.strip() and _storable(part)
        )
    return (str(name).strip() or email.split("@", 1)[0])[:100]


async def _account_for(session: AsyncSession, provider: str, claims: dict[str, Any]) -> User:
    """The linked account, else the account with this verified e-mail, else a new student."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 320 or not _storable(email):
        raise LoginFailed("email_not_verified", "the ID token carries no usable e-mail")
    if not _is_verified(claims):
        raise LoginFailed("email_not_verified", "the provider has not verified the e-mail")
    email = normal_email(email)
    subject: str = claims["sub"]
    try:
        # A savepoint: a racing sign-in of the same person may insert the same rows first.
        async with session.begin_nested():
            return await _link(session, provider, subject, email, claims)
    except IntegrityError:
        async with session.begin_nested():
            return await _link(session, provider, subject, email, claims)


async def _link(
    session: AsyncSession, provider: str, subject: str, email: str, claims: dict[str, Any]
) -> User:
    now = utcnow()
    identity = await session.scalar(
        select(OIDCIdentity).where(
            OIDCIdentity.provider == provider, OIDCIdentity.subject == subject
        )
    )
    user = await session.get(User, identity.user_id) if identity else None
    if identity is not None and (user is None or user.is_deleted):
        # The account was deleted: this provider account starts afresh.
        await session.delete(identity)
        await session.flush()
        identity, user = None, None
    if user is None:
        user = await session.scalar(select(User).where(User.email == email))
    if user is not None and not user.is_active:
        raise LoginFailed("access_denied", "the account is deactivated")
    if user is None:
        user = User(
            email=email,
            password_hash=None,
            full_name=_full_name(claims, email),
            role=Role.student,
            email_verified=True,
        )
        session.add(user)
        await session.flush()
    elif not user.email_verified:
        # Whoever registered this address without proving it must not keep a way in.
        user.email_verified = True
        user.password_hash = None
        await revoke_sessions(session, user.id, reason="oidc_email_takeover")
    if identity is None:
        session.add(OIDCIdentity(provider=provider, subject=subject, user_id=user.id))
    else:
        identity.last_login_at = now
    await session.flush()
    return user


# --- exchange ------------------------------------------------------------------------


async def exchange_login_code(
    session: AsyncSession, settings: Settings, login_code: str
) -> TokenResponse:
    """The token endpoint's answer for a fresh login, once per code, within 60 seconds."""
    now = utcnow()
    user_id = (
        await session.execute(
            update(OIDCLoginCode)
            .where(
                OIDCLoginCode.code_digest == token_digest(login_code),
                OIDCLoginCode.used_at.is_(None),
                OIDCLoginCode.expires_at > now,
            )
            .values(used_at=now)
            .returning(OIDCLoginCode.user_id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if user_id is None:
        raise invalid_grant("The login code is invalid, expired or already used.")
    user = await session.get(User, user_id)
    if user is None or user.is_deleted or not user.is_active:
        raise invalid_grant("The account is deactivated.")
    login = AuthSession(user_id=user.id)
    session.add(login)
    await session.flush()
    return await issue_tokens(session, settings, user, login, fresh=True)


async def forget_member(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Account closure: provider accounts link to people, so they are unlinked (signing in
    again makes a new account) and pending login codes go."""
    await session.execute(delete(OIDCIdentity).where(OIDCIdentity.user_id == user_id))
    await session.execute(delete(OIDCLoginCode).where(OIDCLoginCode.user_id == user_id))
