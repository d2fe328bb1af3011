"""The state cookie: a callback counts only in the browser that started the sign-in (no
login CSRF), and the cookie is short-lived, HttpOnly, SameSite=Lax, Secure under https."""

from __future__ import annotations

from http.cookies import SimpleCookie

from fastapi import FastAPI

from techtribe.auth.oidc.service import STATE_TTL
from tests.oidc_provider import FakeProvider
from tests.oidc_support import (
    INVALID_STATE,
    RETURN_TO,
    Browser,
    browser_for,
    fragment,
    oidc_app,
    oidc_settings,
    without_fragment,
)


def state_cookie(set_cookie: str) -> tuple[str, dict[str, str | bool]]:
    """The cookie's name and its attributes, as a browser reads them."""
    [(name, morsel)] = SimpleCookie(set_cookie).items()
    flags: dict[str, str | bool] = {key: value for key, value in morsel.items() if value}
    return name, flags


async def test_authorize_sets_a_short_lived_httponly_lax_cookie_holding_the_state(
    browser: Browser,
) -> None:
    response = await browser.authorize()

    assert response.status_code == 302
    [set_cookie] = response.headers.get_list("set-cookie")
    name, flags = state_cookie(set_cookie)
    assert flags["httponly"] is True
    assert str(flags["samesite"]).lower() == "lax"
    assert "secure" not in flags  # PUBLIC_BASE_URL is http here
    assert 0 < int(str(flags["max-age"])) <= STATE_TTL.total_seconds()
    assert str(flags["path"]).startswith("/api/v1/auth/oidc")
    assert browser.api.cookies.get(name)  # the browser keeps it


async def test_cookie_is_secure_when_the_public_base_url_is_https(migrated: None) -> None:
    fake = FakeProvider()
    base = "https://techtribe.example"
    settings = oidc_settings(public_base_url=base, oidc_return_allowlist=f"{base}/")
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        response = await browser.authorize(return_to=f"{base}/app")

    assert response.status_code == 302, response.text
    _, flags = state_cookie(response.headers["set-cookie"])
    assert flags["secure"] is True


async def test_callback_in_a_browser_without_the_cookie_is_invalid_state(
    app: FastAPI, fake: FakeProvider, browser: Browser
) -> None:
    callback = await browser.start()

    async with browser_for(app, fake) as elsewhere:
        location = await elsewhere.callback(callback)

    assert location == f"{RETURN_TO}#error=invalid_state"
    # The flow is spent: not even the right browser can finish it now.
    assert await browser.callback(callback) == INVALID_STATE


async def test_login_csrf_someone_elses_callback_signs_nobody_in(
    app: FastAPI, fake: FakeProvider, browser: Browser
) -> None:
    async with browser_for(app, fake) as attacker:
        planted = await attacker.start()  # the attacker's own code and state
    await browser.start()  # the victim has a sign-in of their own under way

    location = await browser.callback(planted)

    assert without_fragment(location) == RETURN_TO
    assert fragment(location) == {"error": "invalid_state"}


async def test_two_sign_ins_started_in_one_browser_both_finish(browser: Browser) -> None:
    first, second = await browser.start(), await browser.start()

    assert "login_code" in fragment(await browser.callback(second))
    assert "login_code" in fragment(await browser.callback(first))


async def test_callback_clears_the_cookie(browser: Browser) -> None:
    callback = await browser.start()
    assert len(browser.api.cookies) == 1

    assert "login_code" in fragment(await browser.callback(callback))

    assert len(browser.api.cookies) == 0
