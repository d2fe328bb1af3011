"""Sign in with Google: every way the callback and the exchange can fail, and what they answer."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from jose import jwt
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import User
from techtribe.auth.oidc.models import OIDCLoginCode, OIDCState
from techtribe.config import Settings
from techtribe.db import utcnow
from techtribe.security import token_digest
from tests.helpers import assert_oauth_error, login, register
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeProvider, SigningKey, unsigned_token
from tests.oidc_support import (
    INVALID_STATE,
    RETURN_TO,
    Browser,
    browser_for,
    fragment,
    oidc_app,
    oidc_settings,
    query,
)


def error_at_return_to(location: str, code: str) -> None:
    assert location == f"{RETURN_TO}#error={code}", location


async def users_with_email(db: AsyncSession, email: str) -> int:
    count = await db.scalar(select(func.count()).select_from(User).where(User.email == email))
    return int(count or 0)


# --- state ---------------------------------------------------------------------------


async def test_missing_state_goes_to_the_public_base_url(browser: Browser) -> None:
    callback_url = await browser.start()
    code = query(callback_url)["code"]

    location = await browser.callback(f"{callback_url.split('?')[0]}?code={code}")

    assert location == INVALID_STATE


async def test_tampered_state_goes_to_the_public_base_url(browser: Browser) -> None:
    callback_url = await browser.start()
    params = query(callback_url)

    location = await browser.callback(
        f"{callback_url.split('?')[0]}?code={params['code']}&state={params['state']}x"
    )

    assert location == INVALID_STATE


async def test_reused_state_is_invalid_state(browser: Browser) -> None:
    callback_url = await browser.start()
    assert "login_code" in fragment(await browser.callback(callback_url))

    assert await browser.callback(callback_url) == INVALID_STATE


async def test_expired_state_is_invalid_state(browser: Browser, db: AsyncSession) -> None:
    callback_url = await browser.start()
    state = query(callback_url)["state"]
    await db.execute(
        update(OIDCState)
        .where(OIDCState.state_digest == token_digest(state))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()

    assert await browser.callback(callback_url) == INVALID_STATE


async def test_state_of_another_provider_is_invalid_state(
    migrated: None, fake: FakeProvider
) -> None:
    other = {"issuer": fake.issuer, "client_id": fake.client_id, "client_secret": CLIENT_SECRET}
    settings = oidc_settings(oidc_providers={"acme": other})
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        callback_url = await browser.start()  # a state made for google

        location = await browser.callback(callback_url.replace("/google/", "/acme/"))

        assert location == INVALID_STATE


async def test_racing_callbacks_with_one_state_sign_in_once(browser: Browser) -> None:
    callback_url = await browser.start()

    locations = await asyncio.gather(*(browser.callback(callback_url) for _ in range(4)))

    assert sorted("login_code" in fragment(location) for location in locations) == [
        False,
        False,
        False,
        True,
    ]
    assert sum(location == INVALID_STATE for location in locations) == 3


# --- the provider's answers ------------------------------------------------------------


async def test_provider_access_denied_goes_back_with_access_denied(
    browser: Browser, fake: FakeProvider
) -> None:
    fake.authorize_error = "access_denied"

    error_at_return_to(await browser.sign_in(), "access_denied")
    assert fake.hits.get("token", 0) == 0


async def test_other_provider_errors_are_provider_error(
    browser: Browser, fake: FakeProvider
) -> None:
    fake.authorize_error = "temporarily_unavailable"

    error_at_return_to(await browser.sign_in(), "provider_error")


async def test_reused_code_is_provider_error(browser: Browser) -> None:
    first = await browser.start()
    await browser.callback(first)
    # A new sign-in (fresh state), but with the code the provider already redeemed.
    second = query(await browser.start())
    replay = f"{first.split('?')[0]}?code={query(first)['code']}&state={second['state']}"

    error_at_return_to(await browser.callback(replay), "provider_error")


async def test_token_endpoint_500_is_provider_error(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    fake.token_status = 500

    error_at_return_to(await browser.sign_in(), "provider_error")
    assert await users_with_email(db, fake.email) == 0


async def test_token_endpoint_timing_out_is_provider_error(
    browser: Browser, fake: FakeProvider, settings: Settings
) -> None:
    fake.token_delay_seconds = 30
    callback_url = await browser.start()

    started = time.monotonic()
    location = await browser.callback(callback_url)

    error_at_return_to(location, "provider_error")
    assert time.monotonic() - started < settings.oidc_http_timeout_seconds + 2


async def test_unreachable_provider_at_authorize_goes_back_with_provider_error(
    migrated: None, fake: FakeProvider
) -> None:
    settings = oidc_settings(oidc_google_issuer="https://elsewhere.example.test")
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        response = await browser.authorize()

        assert response.status_code == 302
        error_at_return_to(response.headers["location"], "provider_error")


# --- the ID token ----------------------------------------------------------------------

BAD_CLAIMS = {
    "wrong nonce": {"nonce": "not-the-nonce-we-sent"},
    "no nonce": {"nonce": None},
    "wrong aud": {"aud": "someone-else.apps.example.test"},
    "no aud": {"aud": None},
    "wrong iss": {"iss": "https://evil.example.test"},
    "expired": {"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200},
    "wrong azp": {"azp": "someone-else.apps.example.test"},
    "several audiences without azp": {"aud": [CLIENT_ID, "another-client"], "azp": None},
    # OIDC Core 3.1.3.7 (3): an audience we don't trust, even with our azp.
    "another audience too": {"aud": [CLIENT_ID, "another-client"]},
    "wrong at_hash": {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"},
    "no sub": {"sub": None},
    "issued in the future": {"iat": int(time.time()) + 3600},
    "iat not a number": {"iat": str(int(time.time()))},
    "no iat": {"iat": None},
    "not yet valid": {"nbf": int(time.time()) + 3600},
    # Not ASCII: must not crash the constant-time comparison.
    "non-ASCII nonce": {"nonce": "n\u00f6nce"},
    "lone surrogate in nonce": {"nonce": "\ud800"},
    "NUL in sub": {"sub": "abc\x00def"},
    "lone surrogate in sub": {"sub": "\udfff"},
}


@pytest.mark.parametrize("claims", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
async def test_bad_id_token_claims_are_invalid_id_token(
    browser: Browser, fake: FakeProvider, db: AsyncSession, claims: dict[str, Any]
) -> None:
    fake.claims = dict(claims)
    if "at_hash" in claims:
        # python-jose would compute the right one from the access token: sign by hand.
        fake.forge = lambda provider, payload: jwt.encode(
            payload, provider.key.pem, algorithm="RS256", headers={"kid": provider.key.kid}
        )

    error_at_return_to(await browser.sign_in(), "invalid_id_token")
    assert await users_with_email(db, fake.email) == 0


async def test_audience_list_naming_only_us_is_accepted(
    browser: Browser, fake: FakeProvider
) -> None:
    fake.claims = {"aud": [fake.client_id]}

    assert "login_code" in fragment(await browser.sign_in())


async def test_at_hash_without_an_access_token_to_check_it_is_invalid_id_token(
    browser: Browser, fake: FakeProvider
) -> None:
    fake.omit_access_token = True  # the ID token still carries at_hash

    error_at_return_to(await browser.sign_in(), "invalid_id_token")


async def test_id_token_without_at_hash_is_accepted(browser: Browser, fake: FakeProvider) -> None:
    # OIDC Core 3.1.3.8: at_hash is optional in the code flow.
    fake.forge = lambda provider, payload: jwt.encode(
        payload, provider.key.pem, algorithm="RS256", headers={"kid": provider.key.kid}
    )

    assert "login_code" in fragment(await browser.sign_in())


BROKEN_KEYS = {
    "RSA key without n and e": lambda key: {"kty": "RSA", "kid": key["kid"], "use": "sig"},
    "bad base64 in n": lambda key: {**key, "n": "!!not-base64!!"},
    "n not a string": lambda key: {**key, "n": 12345},
    "another key type": lambda key: {"kty": "oct", "k": "c2VjcmV0", "kid": key["kid"]},
    "key for another alg": lambda key: {**key, "alg": "RS512"},
}


@pytest.mark.parametrize("broken", BROKEN_KEYS.values(), ids=BROKEN_KEYS.keys())
async def test_unusable_key_in_the_jwks_is_invalid_id_token(
    browser: Browser, fake: FakeProvider, broken: Any
) -> None:
    fake.key.public_jwk = broken(fake.key.public_jwk)

    error_at_return_to(await browser.sign_in(), "invalid_id_token")


async def test_callback_naming_another_issuer_is_provider_error(
    browser: Browser, fake: FakeProvider
) -> None:
    # RFC 9207: the authorization response's `iss` (mix-up attacks).
    callback_url = await browser.start()

    location = await browser.callback(f"{callback_url}&iss=https%3A%2F%2Fevil.example.test")

    error_at_return_to(location, "provider_error")
    assert fake.hits.get("token", 0) == 0


async def test_callback_naming_our_issuer_signs_in(browser: Browser, fake: FakeProvider) -> None:
    callback_url = await browser.start()

    location = await browser.callback(f"{callback_url}&{urlencode({'iss': fake.issuer})}")

    assert "login_code" in fragment(location)


async def test_id_token_signed_with_another_key_is_invalid_id_token(
    browser: Browser, fake: FakeProvider
) -> None:
    impostor = SigningKey.generate()
    fake.forge = lambda provider, payload: jwt.encode(
        payload, impostor.pem, algorithm="RS256", headers={"kid": provider.key.kid}
    )

    error_at_return_to(await browser.sign_in(), "invalid_id_token")


async def test_alg_none_is_invalid_id_token(browser: Browser, fake: FakeProvider) -> None:
    fake.forge = lambda provider, payload: unsigned_token(payload)

    error_at_return_to(await browser.sign_in(), "invalid_id_token")


async def test_hs256_signed_with_the_client_secret_is_invalid_id_token(
    browser: Browser, fake: FakeProvider
) -> None:
    fake.forge = lambda provider, payload: jwt.encode(
        payload, CLIENT_SECRET, algorithm="HS256", headers={"kid": provider.key.kid}
    )

    error_at_return_to(await browser.sign_in(), "invalid_id_token")


async def test_id_token_with_an_unknown_kid_is_invalid_id_token(
    browser: Browser, fake: FakeProvider
) -> None:
    fake.header = {"kid": "no-such-key"}

    error_at_return_to(await browser.sign_in(), "invalid_id_token")


async def test_garbage_id_token_is_invalid_id_token(browser: Browser, fake: FakeProvider) -> None:
    fake.forge = lambda provider, payload: "not.a.jwt"

    error_at_return_to(await browser.sign_in(), "invalid_id_token")


@pytest.mark.parametrize("email", ["someone\x00@example.com", "\ud800@example.com"])
async def test_unstorable_email_is_refused_not_a_500(
    browser: Browser, fake: FakeProvider, email: str
) -> None:
    fake.email = email

    error_at_return_to(await browser.sign_in(), "email_not_verified")


async def test_unstorable_name_falls_back_to_the_email(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    fake.name = "Grace\x00Hopper"

    assert "login_code" in fragment(await browser.sign_in())
    user = await db.scalar(select(User).where(User.email == fake.email))
    assert user is not None
    assert user.full_name == fake.email.split("@")[0]


@pytest.mark.parametrize("verified", [False, "false", None])
async def test_unverified_email_is_email_not_verified(
    browser: Browser, fake: FakeProvider, db: AsyncSession, verified: object
) -> None:
    fake.email_verified = verified
    if verified is None:
        fake.claims = {"email_verified": None}

    error_at_return_to(await browser.sign_in(), "email_not_verified")
    assert await users_with_email(db, fake.email) == 0


async def test_unverified_email_does_not_take_over_an_account(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    await register(browser.api, email=fake.email)
    fake.email_verified = False

    error_at_return_to(await browser.sign_in(), "email_not_verified")
    await login(browser.api, fake.email)


# --- the exchange ----------------------------------------------------------------------


async def test_login_code_works_once(browser: Browser) -> None:
    code = await browser.login_code()
    assert (await browser.exchange(code)).status_code == 200

    assert_oauth_error(await browser.exchange(code), "invalid_grant")


async def test_expired_login_code_is_invalid_grant(browser: Browser, db: AsyncSession) -> None:
    code = await browser.login_code()
    await db.execute(
        update(OIDCLoginCode)
        .where(OIDCLoginCode.code_digest == token_digest(code))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db.commit()

    assert_oauth_error(await browser.exchange(code), "invalid_grant")


async def test_login_code_lives_60_seconds(browser: Browser, db: AsyncSession) -> None:
    code = await browser.login_code()
    db.expire_all()
    row = await db.scalar(
        select(OIDCLoginCode).where(OIDCLoginCode.code_digest == token_digest(code))
    )

    assert row is not None
    assert row.expires_at - row.created_at == timedelta(seconds=60)


async def test_racing_exchanges_of_one_code_answer_once(browser: Browser) -> None:
    code = await browser.login_code()

    responses = await asyncio.gather(*(browser.exchange(code) for _ in range(4)))

    assert sorted(response.status_code for response in responses) == [200, 400, 400, 400]


@pytest.mark.parametrize("login_code", ["", "made-up", "x" * 600, None])
async def test_unknown_or_missing_login_code_is_an_rfc6749_error(
    browser: Browser, login_code: str | None
) -> None:
    response = await browser.exchange(login_code)

    assert_oauth_error(response, "invalid_grant" if login_code else "invalid_request")


async def test_login_code_of_a_deactivated_account_is_invalid_grant(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    code = await browser.login_code()
    await db.execute(update(User).where(User.email == fake.email).values(is_active=False))
    await db.commit()

    assert_oauth_error(await browser.exchange(code), "invalid_grant")
