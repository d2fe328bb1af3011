"""The provider's discovery document and keys: fetched once, refetched on rotation, bounded."""

from __future__ import annotations

import time

import pytest
from jose import jwt

from techtribe.security import TokenError, decode_id_token
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider, unsigned_token
from tests.oidc_support import RETURN_TO, browser_for, fragment, oidc_app, oidc_settings


async def test_discovery_and_keys_are_fetched_once(migrated: None) -> None:
    fake = FakeProvider()
    async with oidc_app(fake, oidc_settings()) as app, browser_for(app, fake) as browser:
        for _ in range(3):
            await browser.tokens()

    assert fake.hits["discovery"] == 1
    assert fake.hits["jwks"] == 1
    assert fake.hits["token"] == 3


async def test_key_rotation_refetches_the_keys(migrated: None) -> None:
    fake = FakeProvider()
    settings = oidc_settings(oidc_jwks_min_refresh_seconds=0)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        await browser.tokens()
        fake.rotate_key(keep_old=False)

        await browser.tokens()  # signed with a kid we have never seen

    assert fake.hits["jwks"] == 2


async def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(migrated: None) -> None:
    fake = FakeProvider()
    settings = oidc_settings(oidc_jwks_min_refresh_seconds=3600)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        await browser.tokens()
        fake.rotate_key()
        await browser.tokens()  # the one refetch of the hour
        fake.rotate_key()

        for _ in range(3):
            location = await browser.sign_in()
            assert location == f"{RETURN_TO}#error=invalid_id_token"

    assert fake.hits["jwks"] == 2


async def test_rotation_right_after_the_first_fetch_is_seen_at_once(migrated: None) -> None:
    # The default interval (60 s) bounds refetches; the first fetch isn't one.
    fake = FakeProvider()
    async with oidc_app(fake, oidc_settings()) as app, browser_for(app, fake) as browser:
        await browser.tokens()
        fake.rotate_key(keep_old=False)

        await browser.tokens()

    assert fake.hits["jwks"] == 2


async def test_known_kid_after_a_refetch_signs_in(migrated: None) -> None:
    fake = FakeProvider()
    settings = oidc_settings(oidc_jwks_min_refresh_seconds=0)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        await browser.tokens()
        fake.rotate_key()
        await browser.tokens()
        # Both keys are known now: tokens signed with either need no more fetches.
        old_and_new = fake.published
        for key in reversed(old_and_new):
            fake.key = key
            assert "login_code" in fragment(await browser.sign_in())

    assert fake.hits["jwks"] == 2


# --- the JOSE layer on its own -------------------------------------------------------


def _claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": CLIENT_ID, "sub": "1", "iat": now, "exp": now + 60, **extra}


def test_decode_id_token_refuses_alg_none_and_hmac_even_if_asked_with_a_symmetric_key() -> None:
    fake = FakeProvider()
    key = fake.key.public_jwk
    for token in (
        unsigned_token(_claims()),
        jwt.encode(_claims(), CLIENT_SECRET, algorithm="HS256"),
    ):
        with pytest.raises(TokenError):
            decode_id_token(token, key, audience=CLIENT_ID, issuers=[ISSUER], access_token=None)
        with pytest.raises(TokenError):
            decode_id_token(
                token,
                {"kty": "oct", "k": "c2VjcmV0"},
                audience=CLIENT_ID,
                issuers=[ISSUER],
                access_token=None,
            )


def test_decode_id_token_checks_at_hash_against_the_access_token() -> None:
    fake = FakeProvider()
    token = jwt.encode(_claims(), fake.key.pem, algorithm="RS256", access_token="the-access-token")
    key = fake.key.public_jwk
    args = {"audience": CLIENT_ID, "issuers": [ISSUER]}

    assert decode_id_token(token, key, access_token="the-access-token", **args)["sub"] == "1"
    with pytest.raises(TokenError):
        decode_id_token(token, key, access_token="another-access-token", **args)
