"""Driving the OIDC sign-in like a browser would, against the fake provider."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from techtribe.app import create_app
from techtribe.config import Settings
from tests.conftest import client_for, make_settings
from tests.helpers import API
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider

PUBLIC_BASE_URL = "http://localhost:8000"
RETURN_TO = f"{PUBLIC_BASE_URL}/app/signed-in"
CALLBACK = f"{PUBLIC_BASE_URL}{API}/auth/oidc/google/callback"
# Where a callback without a state of ours sends the browser.
INVALID_STATE = f"{PUBLIC_BASE_URL}/#error=invalid_state"


def oidc_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "public_base_url": PUBLIC_BASE_URL,
        "oidc_google_client_id": CLIENT_ID,
        "oidc_google_client_secret": CLIENT_SECRET,
        "oidc_google_issuer": ISSUER,
        "oidc_http_timeout_seconds": 0.5,
    }
    values.update(overrides)
    return make_settings(**values)


def only_provider(name: str, fake: FakeProvider) -> Settings:
    """Settings with `fake` configured as provider `name` (through `OIDC_PROVIDERS`) and
    Google turned off."""
    entry = {
        "issuer": fake.issuer,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
    }
    return oidc_settings(oidc_google_client_id=None, oidc_providers={name: entry})


@contextlib.asynccontextmanager
async def oidc_app(fake: FakeProvider, settings: Settings) -> AsyncIterator[FastAPI]:
    """The app, reaching `fake` through its OIDC HTTP client (configuration, not a patch)."""
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app)) as provider_http:
        app.state.oidc_http = provider_http
        async with app.router.lifespan_context(app):
            yield app


def fragment(location: str) -> dict[str, str]:
    """The parameters in a URL's fragment (`#login_code=...` or `#error=...`)."""
    return {name: values[0] for name, values in parse_qs(urlsplit(location).fragment).items()}


def query(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def without_fragment(location: str) -> str:
    return location.split("#", 1)[0]


@dataclass
class Browser:
    """A user agent: our API on one side, the provider's pages on the other."""

    api: httpx.AsyncClient
    provider: httpx.AsyncClient

    async def authorize(
        self, return_to: str | None = RETURN_TO, provider: str = "google"
    ) -> httpx.Response:
        params = {"return_to": return_to} if return_to is not None else {}
        return await self.api.get(f"{API}/auth/oidc/{provider}/authorize", params=params)

    async def consent(self, authorization_url: str) -> str:
        """The user signs in at the provider, which sends them to our callback."""
        response = await self.provider.get(authorization_url)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def callback(self, callback_url: str) -> str:
        response = await self.api.get(callback_url)
        assert response.status_code == 302, response.text
        assert "no-store" in response.headers["cache-control"]
        return response.headers["location"]

    async def start(self, return_to: str = RETURN_TO) -> str:
        """Authorize and consent: the callback URL the provider sends the browser to."""
        response = await self.authorize(return_to)
        assert response.status_code == 302, response.text
        return await self.consent(response.headers["location"])

    async def sign_in(self, return_to: str = RETURN_TO) -> str:
        """The whole round trip: where our callback finally sends the browser."""
        return await self.callback(await self.start(return_to))

    async def login_code(self) -> str:
        location = await self.sign_in()
        assert without_fragment(location) == RETURN_TO, location
        params = fragment(location)
        assert set(params) == {"login_code"}, location
        return params["login_code"]

    async def exchange(self, login_code: Any) -> httpx.Response:
        return await self.api.post(f"{API}/auth/oidc/exchange", json={"login_code": login_code})

    async def tokens(self) -> dict[str, Any]:
        response = await self.exchange(await self.login_code())
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def browser_for(app: FastAPI, fake: FakeProvider) -> AsyncIterator[Browser]:
    async with (
        # At PUBLIC_BASE_URL, where the provider sends it back: its cookies go along.
        client_for(app, base_url=PUBLIC_BASE_URL) as api,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app)) as provider,
    ):
        yield Browser(api=api, provider=provider)
