"""Password hashing and JWT encode/decode, nothing else (so either can be swapped in one place).

python-jose stays behind the functions of this module (PITFALLS: it pulls in `ecdsa`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, TypeVar

with warnings.catch_warnings():
    # passlib 1.7.4 imports the stdlib `crypt` module, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    from passlib.context import CryptContext

from jose import ExpiredSignatureError, JWTError, jwt
from jose.exceptions import JWKError

T = TypeVar("T")


@lru_cache
def _context(rounds: int) -> CryptContext:
    return CryptContext(schemes=["bcrypt"], bcrypt__rounds=rounds)


@lru_cache
def _dummy_hash(rounds: int) -> str:
    # Unknown e-mails are checked against this, so they cost what a wrong password costs.
    return _context(rounds).hash(secrets.token_urlsafe(16))


def _lower_priority() -> None:
    # Linux: a thread's nice value is its own. The event loop keeps its priority, so a
    # storm of logins slows other logins, not every other request.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


# bcrypt's own threads, one per core (more would only queue inside the kernel); the C
# code releases the GIL, so the event loop goes on serving while they hash.
_HASHING = ThreadPoolExecutor(
    max_workers=os.cpu_count() or 1, thread_name_prefix="bcrypt", initializer=_lower_priority
)


async def _off_loop(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work)


async def warm_up(rounds: int) -> None:
    """Make the dummy hash at start-up, so the first unknown-e-mail login isn't slower."""
    await _off_loop(partial(_dummy_hash, rounds))


async def hash_password(password: str, rounds: int) -> str:
    """bcrypt, off the event loop and below its priority."""
    return str(await _off_loop(partial(_context(rounds).hash, password)))


async def verify_password(password: str, password_hash: str | None, rounds: int) -> bool:
    """Constant-work check: a missing hash still costs one bcrypt verify."""

    def _verify() -> bool:
        # Over 72 bytes it was never accepted as a password: bcrypt would compare only a
        # prefix (and passlib raises past 4096 bytes). Same work, never a match.
        if password_hash is None or len(password.encode()) > 72:
            _context(rounds).verify("not-a-password", _dummy_hash(rounds))
            return False
        return bool(_context(rounds).verify(password, password_hash))

    return await _off_loop(_verify)


def new_opaque_token() -> str:
    """A random token for e-mail links; only its hash is stored."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenError(Exception):
    """A JWT that can't be used; `expired` tells the two cases apart for the 401 code."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def encode_jwt(claims: dict[str, Any], *, secret: str, algorithm: str) -> str:
    payload = {
        key: int(value.timestamp()) if isinstance(value, datetime) else value
        for key, value in claims.items()
    }
    return str(jwt.encode(payload, secret, algorithm=algorithm))


def decode_jwt(token: str, *, secret: str, algorithm: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "require_jti": True,
            },
        )
    except ExpiredSignatureError as exc:
        raise TokenError("The token has expired.", expired=True) from exc
    except JWTError as exc:
        raise TokenError("The token is malformed or its signature is wrong.") from exc
    return claims


def expires_at(now: datetime, *, minutes: int = 0, days: int = 0) -> datetime:
    return now + timedelta(minutes=minutes, days=days)


# ID tokens are checked with the provider's public keys: asymmetric algorithms only, so
# neither `alg: none` nor an HMAC keyed with a public key (algorithm confusion) can pass.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")


def unverified_jwt_header(token: str) -> dict[str, Any]:
    """The JOSE header, unchecked: only to pick the key (`kid`) and refuse bad `alg`s early."""
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise TokenError("The token is malformed.") from exc
    return header


def decode_id_token(
    token: str,
    key: dict[str, Any],
    *,
    audience: str,
    issuers: list[str],
    access_token: str | None,
    leeway_seconds: int = 60,
) -> dict[str, Any]:
    """Verify an OpenID Connect ID token's signature (one JWK), `iss`, `aud`, `exp`, `iat`.

    With `access_token`, an `at_hash` claim must match it (OIDC Core 3.1.3.6); python-jose
    refuses a token carrying `at_hash` when no access token is given. An `iat` in the
    future (past the leeway) is refused too. `nonce` and `azp` are the caller's to check.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(ID_TOKEN_ALGORITHMS),
            audience=audience,
            issuer=issuers,
            access_token=access_token,
            options={
                "require_aud": True,
                "require_iss": True,
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "leeway": leeway_seconds,
            },
        )
    except ExpiredSignatureError as exc:
        raise TokenError("The ID token has expired.", expired=True) from exc
    except (JWTError, JWKError) as exc:
        raise TokenError(f"The ID token is not valid: {exc}") from exc
    except (ValueError, TypeError, KeyError) as exc:
        # python-jose lets a malformed JWK (an RSA key without `n`, bad base64) escape
        # as a plain ValueError: the provider's key is unusable, the token unverifiable.
        raise TokenError(f"The signing key is unusable: {type(exc).__name__}") from exc
    issued_at = claims["iat"]
    # python-jose takes any int()-able value (even the string "1"): a number is required.
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float):
        raise TokenError("The ID token's iat is not a number.")
    if issued_at > time.time() + leeway_seconds:
        raise TokenError("The ID token was issued in the future (iat).")
    return claims
