"""`return_to` and `OIDC_RETURN_ALLOWLIST`: scheme, host and port equal, path a prefix."""

from __future__ import annotations

import pytest

from techtribe.auth.oidc.allowlist import is_allowed
from techtribe.config import Settings
from tests.helpers import assert_problem
from tests.oidc_provider import FakeProvider
from tests.oidc_support import Browser, browser_for, fragment, oidc_app, oidc_settings

ALLOWLIST = [
    "http://localhost:8000",
    "https://app.example.com/spa/",
    "com.example.app://oauth/",
    "javascript://alert(1)",
]

ALLOWED = [
    "http://localhost:8000",
    "http://localhost:8000/",
    "http://localhost:8000/any/path?x=1",
    "HTTP://LOCALHOST:8000/upper-case-scheme-and-host",
    "https://app.example.com/spa/",
    "https://app.example.com/spa/signed-in",
    "https://app.example.com:443/spa/default-port-spelled-out",
    "com.example.app://oauth/callback",
]

REFUSED = [
    "http://localhost:8000@evil.example/",
    "http://localhost:8000@evil.example:8000/",
    "http://user:pass@localhost:8000/",
    "http://localhost:8001/",
    "http://localhost/",
    "https://localhost:8000/",
    "http://localhost.evil.example:8000/",
    "http://evil.example/http://localhost:8000/",
    "https://app.example.com/",
    "https://app.example.com/other/",
    "https://app.example.com:8443/spa/",
    "http://app.example.com/spa/",
    "http://localhost:8000\\@evil.example/",
    "http://localhost:8000/\t/evil",
    "http://localhost:8000/#/fragment",
    "https://app.example.com/spa/../admin/",
    "https://app.example.com/spa/%2e%2e/admin/",
    "https://app.example.com/spa/./../admin",
    "http://localhost:8000:80/",
    "http://localhost:99999/",
    "//localhost:8000/",
    "/relative/path",
    "javascript:alert(1)",
    "javascript://alert(1)",
    "com.example.app://other/",
    "com.example.app:///oauth/",
    "",
    "http://localhost:8000/" + "a" * 2100,
]


@pytest.mark.parametrize("url", ALLOWED)
def test_allowed_return_to(url: str) -> None:
    assert is_allowed(url, ALLOWLIST)


@pytest.mark.parametrize("url", REFUSED)
def test_refused_return_to(url: str) -> None:
    assert not is_allowed(url, ALLOWLIST)


@pytest.fixture
def settings() -> Settings:
    return oidc_settings(oidc_return_allowlist="https://app.example.com/spa/, myapp://cb")


async def test_return_to_off_the_allowlist_is_400_invalid_return_to(browser: Browser) -> None:
    for url in ("http://localhost:8000/", "https://app.example.com@evil.example/spa/"):
        assert_problem(await browser.authorize(url), 400, "invalid_return_to")


async def test_allowlist_setting_replaces_the_default(browser: Browser) -> None:
    location = await browser.sign_in("https://app.example.com/spa/done")

    assert location.startswith("https://app.example.com/spa/done#login_code=")
    assert "login_code" in fragment(location)


async def test_default_allowlist_is_the_public_base_url(migrated: None, fake: FakeProvider) -> None:
    async with oidc_app(fake, oidc_settings()) as app, browser_for(app, fake) as browser:
        assert (await browser.authorize("http://localhost:8000/x")).status_code == 302
        assert_problem(
            await browser.authorize("https://app.example.com/spa/"), 400, "invalid_return_to"
        )
