"""Sign in with Google: hostile or broken input never gets a 500, and the docs say what's real."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import API, assert_oauth_error, assert_problem
from tests.oidc_provider import FakeProvider
from tests.oidc_support import (
    CALLBACK,
    INVALID_STATE,
    PUBLIC_BASE_URL,
    RETURN_TO,
    Browser,
    browser_for,
    fragment,
    oidc_app,
    oidc_settings,
    query,
)


async def fresh_state(browser: Browser) -> str:
    """A state of ours, as if the provider were about to send the browser back."""
    return query(await browser.start())["state"]


# --- the callback's query --------------------------------------------------------------

# Raw query strings, exactly as a browser (or an attacker) may send them.
STATELESS_QUERIES = {
    "nothing": "",
    "code only": "code=abc",
    "empty state": "state=&code=abc",
    "huge state": "state=" + "s" * 20_000 + "&code=abc",
    "NUL in state": "state=abc%00def&code=abc",
    "invalid UTF-8": "state=%ff%fe%fd&code=%c3%28",
    "only error": "error=access_denied",
    "control characters": "state=%0d%0aSet-Cookie:%20x=1&code=a",
}


@pytest.mark.parametrize("raw", STATELESS_QUERIES.values(), ids=STATELESS_QUERIES.keys())
async def test_callback_without_a_state_of_ours_is_invalid_state(
    browser: Browser, fake: FakeProvider, raw: str
) -> None:
    location = await browser.callback(f"{CALLBACK}?{raw}")

    assert location == INVALID_STATE
    assert fake.hits.get("token", 0) == 0


BAD_CODES = {
    "missing code": "",
    "empty code": "&code=",
    "huge code": "&code=" + "c" * 20_000,
    "NUL in code": "&code=abc%00def",
    "invalid UTF-8 in code": "&code=%ff%fe",
    "NUL in error": "&error=access%00denied",
    "huge error": "&error=" + "e" * 20_000 + "&error_description=" + "d" * 20_000,
}


@pytest.mark.parametrize("extra", BAD_CODES.values(), ids=BAD_CODES.keys())
async def test_callback_with_our_state_and_a_bad_code_is_provider_error(
    browser: Browser, extra: str
) -> None:
    state = await fresh_state(browser)

    location = await browser.callback(f"{CALLBACK}?state={state}{extra}")

    assert location == f"{RETURN_TO}#error=provider_error", location


async def test_state_is_spent_by_a_failed_callback(browser: Browser) -> None:
    callback_url = await browser.start()
    state = query(callback_url)["state"]
    assert (
        await browser.callback(f"{CALLBACK}?state={state}") == f"{RETURN_TO}#error=provider_error"
    )

    # The real answer comes too late: the state is gone.
    assert await browser.callback(callback_url) == INVALID_STATE


async def test_callback_of_an_unknown_provider_is_404_whatever_the_query(browser: Browser) -> None:
    for path in ("nope/callback?state=%00", "%00/callback", "x" * 5000 + "/callback"):
        assert_problem(await browser.api.get(f"{API}/auth/oidc/{path}"), 404, "not_found")


@pytest.mark.parametrize(
    "return_to",
    [
        f"{RETURN_TO}\x00/x",
        f"{PUBLIC_BASE_URL}/" + "a" * 20_000,
        f"{PUBLIC_BASE_URL}/\r\nSet-Cookie: x=1",
        "\ufeffhttp://localhost:8000/",
    ],
    ids=["NUL", "huge", "CRLF", "BOM"],
)
async def test_authorize_with_a_hostile_return_to_is_400(browser: Browser, return_to: str) -> None:
    assert_problem(await browser.authorize(return_to), 400, "invalid_return_to")


# --- the exchange's body -----------------------------------------------------------------

BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "no body": (b"", "application/json"),
    "not JSON": (b"login_code=abc", "application/x-www-form-urlencoded"),
    "broken JSON": (b'{"login_code": ', "application/json"),
    "a JSON list": (b'["abc"]', "application/json"),
    "a JSON string": (b'"abc"', "application/json"),
    "null": (b"null", "application/json"),
    "number": (b'{"login_code": 12345}', "application/json"),
    "object": (b'{"login_code": {"$ne": null}}', "application/json"),
    "list": (b'{"login_code": ["a", "b"]}', "application/json"),
    "invalid UTF-8": (b'{"login_code": "\xff\xfe"}', "application/json"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
}


@pytest.mark.parametrize(("content", "content_type"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_malformed_exchange_body_is_invalid_request_in_the_token_format(
    browser: Browser, content: bytes, content_type: str
) -> None:
    response = await browser.api.post(
        f"{API}/auth/oidc/exchange", content=content, headers={"content-type": content_type}
    )

    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("login_code", ["abc\x00def", "\x00", "ü" * 100, "x" * 100_000])
async def test_odd_login_codes_are_invalid_grant(browser: Browser, login_code: str) -> None:
    assert_oauth_error(await browser.exchange(login_code), "invalid_grant")


async def test_login_code_with_a_lone_surrogate_is_invalid_grant(browser: Browser) -> None:
    # Valid JSON, but no UTF-8 string: it can't be hashed or stored.
    response = await browser.api.post(
        f"{API}/auth/oidc/exchange",
        content=b'{"login_code": "\\ud800"}',
        headers={"content-type": "application/json"},
    )

    assert_oauth_error(response, "invalid_grant")


async def test_unknown_fields_next_to_the_login_code_are_ignored(browser: Browser) -> None:
    code = await browser.login_code()
    response = await browser.api.post(
        f"{API}/auth/oidc/exchange", json={"login_code": code, "role": "admin"}
    )

    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]


# --- providers -----------------------------------------------------------------------------


async def test_google_id_tokens_naming_the_issuer_without_scheme_are_accepted(
    migrated: None,
) -> None:
    # Google's documentation: `iss` is "https://accounts.google.com" or "accounts.google.com".
    fake = FakeProvider(issuer="https://accounts.google.com")
    fake.claims = {"iss": "accounts.google.com"}
    settings = oidc_settings(oidc_google_issuer="https://accounts.google.com")
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        assert "login_code" in fragment(await browser.sign_in())
        fake.claims = {"iss": "https://accounts.google.com.evil.example"}
        assert fragment(await browser.sign_in()) == {"error": "invalid_id_token"}


async def test_unknown_kid_refetches_the_keys_again_once_the_interval_has_passed(
    migrated: None,
) -> None:
    # The second sign-in must land inside the interval counted from the refetch before it.
    # A sign-in takes well under a second, but a loaded CI machine once took over 1.5 s.
    interval = 5.0
    fake = FakeProvider()
    settings = oidc_settings(oidc_jwks_min_refresh_seconds=interval)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        await browser.tokens()
        # No wait: the first fetch doesn't count against the interval.
        fake.rotate_key(keep_old=False)
        assert "login_code" in fragment(await browser.sign_in())  # refetched: jwks 2
        fake.rotate_key(keep_old=False)
        # Within the interval: the new kid stays unknown, no fetch.
        assert fragment(await browser.sign_in()) == {"error": "invalid_id_token"}
        assert fake.hits["jwks"] == 2
        await asyncio.sleep(interval + 0.1)
        assert "login_code" in fragment(await browser.sign_in())

    assert fake.hits["jwks"] == 3


# --- the documentation ------------------------------------------------------------------------


async def test_openapi_documents_the_three_endpoints(browser: Browser) -> None:
    spec = (await browser.api.get("/openapi.json")).json()
    paths = spec["paths"]

    authorize = paths[f"{API}/auth/oidc/{{provider}}/authorize"]["get"]
    assert {"302", "400", "404"} <= authorize["responses"].keys()
    assert "return_to" in {param["name"] for param in authorize["parameters"]}

    callback = paths[f"{API}/auth/oidc/{{provider}}/callback"]["get"]
    assert {"state", "code", "error"} <= {param["name"] for param in callback["parameters"]}
    assert not any(param["required"] for param in callback["parameters"] if param["in"] == "query")
    assert "302" in callback["responses"]

    exchange = paths[f"{API}/auth/oidc/exchange"]["post"]
    ref = exchange["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert body["required"] == ["login_code"]
    assert body["properties"]["login_code"]["type"] == "string"
    assert exchange["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenResponse"
    }
    assert exchange["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenErrorResponse"
    }
