"""`GET /auth/providers`: which sign-in buttons a client shows, without probing."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.helpers import API
from tests.oidc_provider import FakeProvider
from tests.oidc_support import PUBLIC_BASE_URL, Browser, browser_for, oidc_app, oidc_settings


async def test_providers_lists_google_and_configured_ones_with_working_authorize_urls(
    migrated: None, fake: FakeProvider
) -> None:
    entry = {"issuer": fake.issuer, "client_id": fake.client_id, "client_secret": "s"}
    named = {**entry, "display_name": "ACME Single Sign-On"}
    settings = oidc_settings(oidc_providers={"acme": named, "my_keycloak": entry})
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        response = await browser.api.get(f"{API}/auth/providers")
        assert response.status_code == 200
        listed = response.json()
        assert listed == [
            {
                "name": name,
                "display_name": shown,
                "authorize_url": f"{PUBLIC_BASE_URL}{API}/auth/oidc/{name}/authorize",
            }
            for name, shown in (
                ("google", "Google"),
                ("acme", "ACME Single Sign-On"),
                ("my_keycloak", "My Keycloak"),
            )
        ]
        # Each address starts a sign-in at its provider.
        for provider in listed:
            started = await browser.api.get(urlsplit(provider["authorize_url"]).path)
            assert started.status_code == 302
            assert started.headers["location"].startswith(fake.issuer)


async def test_providers_is_an_empty_list_when_none_is_configured(
    migrated: None, fake: FakeProvider
) -> None:
    settings = oidc_settings(oidc_google_client_id=None)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        response = await browser.api.get(f"{API}/auth/providers")

    assert response.status_code == 200
    assert response.json() == []


async def test_providers_is_public_and_the_same_for_everyone(browser: Browser) -> None:
    anonymous = await browser.api.get(f"{API}/auth/providers")
    with_junk_token = await browser.api.get(
        f"{API}/auth/providers", headers={"Authorization": "Bearer not-a-token"}
    )

    assert anonymous.status_code == with_junk_token.status_code == 200
    assert (
        anonymous.json()
        == with_junk_token.json()
        == [
            {
                "name": "google",
                "display_name": "Google",
                "authorize_url": f"{PUBLIC_BASE_URL}{API}/auth/oidc/google/authorize",
            }
        ]
    )
