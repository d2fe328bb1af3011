"""The configured OpenID Connect providers, their discovery documents and signing keys.

Each provider's discovery document is fetched once and cached; its JWKS too, refetched
when an ID token names a key we don't know (key rotation), but at most once every
`OIDC_JWKS_MIN_REFRESH_SECONDS`, so tokens with made-up `kid`s can't make us hammer the
provider. Only refetches count: a rotation right after the first fetch is still seen.
Every call has a deadline (`OIDC_HTTP_TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from techtribe.config import Settings

log = logging.getLogger("techtribe.oidc")

GOOGLE_ISSUER = "https://accounts.google.com"


class ProviderError(Exception):
    """The provider could not be reached in time or answered something unusable."""


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    client_id: str
    client_secret: SecretStr
    issuer_aliases: tuple[str, ...] = ()
    display_name: str = ""

    @property
    def issuers(self) -> list[str]:
        """The `iss` values accepted in ID tokens."""
        return [self.issuer, *self.issuer_aliases]


def providers_from_settings(settings: Settings) -> dict[str, Provider]:
    """Google from `OIDC_GOOGLE_*` when its client is set, plus every `OIDC_PROVIDERS` entry."""
    providers: dict[str, Provider] = {}
    secret = settings.oidc_google_client_secret
    if settings.oidc_google_client_id and secret and secret.get_secret_value():
        # Google's ID tokens may say "accounts.google.com" without the scheme (its docs).
        aliases = ("accounts.google.com",) if settings.oidc_google_issuer == GOOGLE_ISSUER else ()
        providers["google"] = Provider(
            name="google",
            issuer=settings.oidc_google_issuer,
            client_id=settings.oidc_google_client_id,
            client_secret=secret,
            issuer_aliases=aliases,
            display_name="Google",
        )
    for name, entry in settings.oidc_providers.items():
        providers[name] = Provider(
            name=name,
            # Exactly as the provider spells it (Auth0's ends in "/"): `iss` is compared as is.
            issuer=entry.issuer,
            client_id=entry.client_id,
            client_secret=entry.client_secret,
            issuer_aliases=tuple(entry.issuer_aliases),
            display_name=entry.display_name or name.replace("-", " ").replace("_", " ").title(),
        )
    return providers


@dataclass(frozen=True)
class Metadata:
    """What we use of the discovery document (OpenID Connect Discovery 1.0, section 3)."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_methods: tuple[str, ...]


@dataclass
class _KeyCache:
    keys: list[dict[str, Any]] | None = None
    # When the last refetch for an unknown `kid` started (the first fetch doesn't count).
    refetched_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ProviderClient:
    """One provider: discovery, keys and the code exchange, over the caller's HTTP client."""

    def __init__(
        self,
        provider: Provider,
        *,
        timeout_seconds: float,
        jwks_min_refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self._timeout = timeout_seconds
        self._min_refresh = jwks_min_refresh_seconds
        self._clock = clock
        self._metadata: Metadata | None = None
        self._metadata_lock = asyncio.Lock()
        self._keys = _KeyCache()

    # --- HTTP ------------------------------------------------------------------------

    async def _call(self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
        """A JSON answer within the deadline, else ProviderError (never the body in logs)."""
        try:
            # httpx's timeout is per operation (connect, each read...); this caps the whole.
            async with asyncio.timeout(self._timeout):
                response = await http.request(
                    method,
                    url,
                    timeout=self._timeout,
                    headers={"Accept": "application/json"},
                    **kwargs,
                )
        except TimeoutError as exc:
            raise ProviderError(f"{method} {url}: no answer within {self._timeout} s") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{method} {url}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise ProviderError(f"{method} {url}: status {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(f"{method} {url}: the answer is not JSON") from exc

    # --- discovery -------------------------------------------------------------------

    async def metadata(self, http: httpx.AsyncClient) -> Metadata:
        if self._metadata is not None:
            return self._metadata
        async with self._metadata_lock:
            if self._metadata is None:
                self._metadata = await self._discover(http)
        return self._metadata

    async def _discover(self, http: httpx.AsyncClient) -> Metadata:
        url = f"{self.provider.issuer.rstrip('/')}/.well-known/openid-configuration"
        document = await self._call(http, "GET", url)
        if not isinstance(document, dict):
            raise ProviderError(f"{url}: not a discovery document")
        # Discovery section 4.3: the document must name the issuer we asked.
        if document.get("issuer") != self.provider.issuer:
            raise ProviderError(f"{url}: issuer {document.get('issuer')!r} is not ours")
        missing = [
            name
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
            if not isinstance(document.get(name), str)
        ]
        if missing:
            raise ProviderError(f"{url}: {', '.join(missing)} missing")
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return Metadata(
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            token_endpoint_auth_methods=tuple(map(str, methods)),
        )

    # --- keys ------------------------------------------------------------------------

    async def signing_key(self, http: httpx.AsyncClient, kid: str | None) -> dict[str, Any] | None:
        """The provider's public key `kid`; unknown: refetch the JWKS (rate-bounded) and retry."""
        cache = self._keys
        async with cache.lock:
            first = cache.keys is None
            if first:
                await self._fetch_keys(http)
            key = _find_key(cache.keys or [], kid)
            now = self._clock()
            due = cache.refetched_at is None or now - cache.refetched_at >= self._min_refresh
            # Keys fetched for this very token are as new as a refetch would get.
            if key is None and not first and due:
                log.info("OIDC %s: unknown key %r, refetching the JWKS", self.provider.name, kid)
                # Counted from the attempt, so failures are rate-bounded too.
                cache.refetched_at = now
                await self._fetch_keys(http)
                key = _find_key(cache.keys or [], kid)
            return key

    async def _fetch_keys(self, http: httpx.AsyncClient) -> None:
        metadata = await self.metadata(http)
        document = await self._call(http, "GET", metadata.jwks_uri)
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ProviderError(f"{metadata.jwks_uri}: not a JWK set")
        self._keys.keys = [key for key in keys if isinstance(key, dict)]

    # --- token endpoint --------------------------------------------------------------

    async def exchange_code(
        self, http: httpx.AsyncClient, *, code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        """The authorization code grant with the PKCE verifier (RFC 6749 4.1.3, RFC 7636)."""
        metadata = await self.metadata(http)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        client_id = self.provider.client_id
        secret = self.provider.client_secret.get_secret_value()
        auth: tuple[str, str] | None = None
        methods = metadata.token_endpoint_auth_methods
        if "client_secret_basic" in methods or "client_secret_post" not in methods:
            # RFC 6749 2.3.1: both parts form-encoded before the Basic encoding.
            auth = (quote(client_id, safe=""), quote(secret, safe=""))
        else:
            form |= {"client_id": client_id, "client_secret": secret}
        answer = await self._call(http, "POST", metadata.token_endpoint, data=form, auth=auth)
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise ProviderError(f"{metadata.token_endpoint}: no id_token in the answer")
        return answer


def _find_key(keys: list[dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    signing = [key for key in keys if key.get("use", "sig") == "sig"]
    if kid is None:
        # No `kid`: only unambiguous with a single signing key (OIDC Core 10.1).
        return signing[0] if len(signing) == 1 else None
    return next((key for key in signing if key.get("kid") == kid), None)


class OIDCRegistry:
    """The providers of these settings, each with its caches; unknown names are None."""

    def __init__(self, settings: Settings) -> None:
        self._clients = {
            name: ProviderClient(
                provider,
                timeout_seconds=settings.oidc_http_timeout_seconds,
                jwks_min_refresh_seconds=settings.oidc_jwks_min_refresh_seconds,
            )
            for name, provider in providers_from_settings(settings).items()
        }

    def providers(self) -> list[Provider]:
        """The configured providers, in configuration order (Google first)."""
        return [client.provider for client in self._clients.values()]

    def get(self, name: str) -> ProviderClient | None:
        return self._clients.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._clients
