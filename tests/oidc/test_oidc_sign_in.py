"""Sign in with Google: the happy paths, the accounts they reach, and the login code exchange."""

from __future__ import annotations

import unicodedata
import uuid

import pytest
from jose import jwt
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import User
from techtribe.auth.oidc.models import OIDCIdentity, OIDCState
from techtribe.config import Settings
from techtribe.security import token_digest
from tests.helpers import (
    API,
    PASSWORD,
    assert_oauth_error,
    assert_problem,
    assert_unauthorized,
    bearer,
    login,
    mailed_token,
    register,
    token_request,
)
from tests.oidc_provider import CLIENT_ID, ISSUER, FakeProvider
from tests.oidc_support import (
    CALLBACK,
    RETURN_TO,
    Browser,
    browser_for,
    oidc_app,
    oidc_settings,
    only_provider,
    query,
    without_fragment,
)


async def me(browser: Browser, access_token: str) -> dict[str, object]:
    response = await browser.api.get(f"{API}/users/me", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    db.expire_all()
    return await db.scalar(select(User).where(User.email == email))


async def deactivate(db: AsyncSession, email: str) -> None:
    """What an admin's `is_active: false` does, straight in the database."""
    user = await user_by_email(db, email)
    assert user is not None
    user.is_active = False
    await db.commit()


# --- authorize ---------------------------------------------------------------------


async def test_authorize_redirects_to_the_provider_with_state_nonce_and_pkce(
    browser: Browser, db: AsyncSession
) -> None:
    response = await browser.authorize()

    assert response.status_code == 302
    location = response.headers["location"]
    assert without_fragment(location).startswith(f"{ISSUER}/authorize?")
    params = query(location)
    assert params["response_type"] == "code"
    assert params["scope"] == "openid email profile"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == CALLBACK
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert len(params["state"]) >= 32
    assert len(params["nonce"]) >= 32
    assert params["state"] != params["nonce"]
    # Only a digest of the state is stored, never the value itself.
    stored = await db.scalar(
        select(OIDCState).where(OIDCState.state_digest == token_digest(params["state"]))
    )
    assert stored is not None
    assert stored.return_to == RETURN_TO
    assert (
        await db.scalar(select(OIDCState).where(OIDCState.state_digest == params["state"])) is None
    )


async def test_each_authorize_gets_its_own_state_nonce_and_verifier(browser: Browser) -> None:
    first = query((await browser.authorize()).headers["location"])
    second = query((await browser.authorize()).headers["location"])

    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name]


async def test_authorize_without_return_to_comes_back_to_the_public_base_url(
    browser: Browser, settings: Settings
) -> None:
    response = await browser.authorize(return_to=None)
    location = await browser.callback(await browser.consent(response.headers["location"]))

    assert without_fragment(location) == f"{settings.public_base_url}/"


async def test_unknown_provider_is_404(browser: Browser) -> None:
    assert_problem(await browser.authorize(provider="myspace"), 404, "not_found")
    response = await browser.api.get(f"{API}/auth/oidc/myspace/callback?state=x&code=y")
    assert_problem(response, 404, "not_found")


async def test_google_without_its_client_settings_is_404(
    migrated: None, fake: FakeProvider
) -> None:
    settings = oidc_settings(oidc_google_client_id=None)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        assert_problem(await browser.authorize(), 404, "not_found")


async def test_another_provider_is_just_settings(migrated: None, fake: FakeProvider) -> None:
    settings = only_provider("acme", fake)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        response = await browser.authorize(provider="acme")
        callback_url = await browser.consent(response.headers["location"])
        assert callback_url.startswith(f"{settings.public_base_url}{API}/auth/oidc/acme/callback?")
        location = await browser.callback(callback_url)

        assert "login_code" in location


async def test_issuer_ending_in_a_slash_is_compared_exactly(migrated: None) -> None:
    fake = FakeProvider(issuer="https://tenant.example.test/")
    settings = only_provider("tenant", fake)
    async with oidc_app(fake, settings) as app, browser_for(app, fake) as browser:
        response = await browser.authorize(provider="tenant")
        location = await browser.callback(await browser.consent(response.headers["location"]))

    assert "login_code" in location


def test_provider_names_are_checked_at_start_up() -> None:
    entry = {"issuer": ISSUER, "client_id": "a", "client_secret": "b"}
    with pytest.raises(ValidationError, match="not a valid provider name"):
        oidc_settings(oidc_providers={"Bad/Name": entry})


# --- new and existing accounts -------------------------------------------------------


async def test_new_person_becomes_a_verified_student_without_a_password(
    browser: Browser, fake: FakeProvider, db: AsyncSession, settings: Settings
) -> None:
    tokens = await browser.tokens()

    assert tokens.keys() == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == settings.access_token_minutes * 60
    profile = await me(browser, tokens["access_token"])
    assert profile["email"] == fake.email
    assert profile["role"] == "student"
    assert profile["full_name"] == fake.name
    user = await user_by_email(db, fake.email)
    assert user is not None
    assert user.email_verified is True
    assert user.password_hash is None
    identity = await db.scalar(select(OIDCIdentity).where(OIDCIdentity.user_id == user.id))
    assert identity is not None
    assert (identity.provider, identity.subject) == ("google", fake.subject)


async def test_exchange_gives_a_fresh_login_like_the_password_grant(browser: Browser) -> None:
    response = await browser.exchange(await browser.login_code())

    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    claims = jwt.get_unverified_claims(response.json()["access_token"])
    assert claims["fresh"] is True
    assert claims["type"] == "access"
    assert claims["role"] == "student"
    # The refresh token works like any other.
    refreshed = await token_request(
        browser.api, grant_type="refresh_token", refresh_token=response.json()["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text


async def test_tokens_never_travel_in_a_url(browser: Browser) -> None:
    authorization_url = (await browser.authorize()).headers["location"]
    callback_url = await browser.consent(authorization_url)
    final = await browser.callback(callback_url)
    tokens = (await browser.exchange(final.split("#login_code=", 1)[1])).json()

    for url in (authorization_url, callback_url, final):
        assert tokens["access_token"] not in url
        assert tokens["refresh_token"] not in url
    assert "?" not in final  # the login code is in the fragment, which browsers never send


async def test_second_sign_in_reaches_the_same_account(browser: Browser, db: AsyncSession) -> None:
    first = await me(browser, (await browser.tokens())["access_token"])
    second = await me(browser, (await browser.tokens())["access_token"])

    assert first["id"] == second["id"]


async def test_existing_verified_account_signs_in_and_keeps_its_password(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    user = await register(browser.api, email=fake.email)
    await browser.api.post(
        f"{API}/auth/verify-email", json={"token": await mailed_token(db, fake.email, "welcome")}
    )
    earlier = await login(browser.api, fake.email)

    tokens = await browser.tokens()

    assert (await me(browser, tokens["access_token"]))["id"] == user["id"]
    # Nothing was taken from the rightful owner: password and other sessions stay.
    assert (await me(browser, earlier["access_token"]))["id"] == user["id"]
    await login(browser.api, fake.email, PASSWORD)


async def test_existing_never_verified_account_is_taken_over_by_the_provider_owner(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    squatter = await register(browser.api, email=fake.email)
    squatter_tokens = await login(browser.api, fake.email)

    tokens = await browser.tokens()

    assert (await me(browser, tokens["access_token"]))["id"] == squatter["id"]
    user = await user_by_email(db, fake.email)
    assert user is not None
    assert user.email_verified is True
    assert user.password_hash is None
    # Whoever pre-registered the address is out: sessions revoked, password gone.
    response = await browser.api.get(
        f"{API}/users/me", headers=bearer(squatter_tokens["access_token"])
    )
    assert_unauthorized(response, "token_revoked")
    refreshed = await token_request(
        browser.api, grant_type="refresh_token", refresh_token=squatter_tokens["refresh_token"]
    )
    assert_oauth_error(refreshed, "invalid_grant")
    wrong = await token_request(
        browser.api, grant_type="password", username=fake.email, password=PASSWORD
    )
    assert_oauth_error(wrong, "invalid_grant")


async def test_email_change_at_the_provider_still_finds_the_account(
    browser: Browser, fake: FakeProvider
) -> None:
    first = await me(browser, (await browser.tokens())["access_token"])
    fake.email = f"renamed-{uuid.uuid4().hex[:8]}@example.com"

    second = await me(browser, (await browser.tokens())["access_token"])

    assert second["id"] == first["id"]


async def test_provider_email_is_matched_case_insensitively(
    browser: Browser, fake: FakeProvider
) -> None:
    user = await register(browser.api, email=fake.email)
    fake.email = fake.email.upper()

    tokens = await browser.tokens()

    assert (await me(browser, tokens["access_token"]))["id"] == user["id"]


async def test_deactivated_account_is_access_denied(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    await browser.tokens()
    await deactivate(db, fake.email)

    location = await browser.sign_in()

    assert location == f"{RETURN_TO}#error=access_denied"


async def test_deactivated_account_found_by_email_is_access_denied_and_untouched(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    await register(browser.api, email=fake.email)  # never verified, never linked
    await deactivate(db, fake.email)

    location = await browser.sign_in()

    assert location == f"{RETURN_TO}#error=access_denied"
    user = await user_by_email(db, fake.email)
    assert user is not None
    # No take-over of a deactivated account: still unverified, password kept, not linked.
    assert user.email_verified is False
    assert user.password_hash is not None
    assert await db.scalar(select(OIDCIdentity).where(OIDCIdentity.user_id == user.id)) is None


async def test_deleted_account_signs_in_again_as_a_new_account(
    browser: Browser, fake: FakeProvider
) -> None:
    tokens = await browser.tokens()
    first = await me(browser, tokens["access_token"])
    response = await browser.api.delete(f"{API}/users/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204, response.text

    second = await me(browser, (await browser.tokens())["access_token"])

    assert second["id"] != first["id"]
    assert second["email"] == fake.email


# --- password-less accounts ------------------------------------------------------------


async def test_password_grant_of_a_password_less_account_is_invalid_grant(
    browser: Browser, fake: FakeProvider
) -> None:
    await browser.tokens()

    response = await token_request(
        browser.api, grant_type="password", username=fake.email, password=PASSWORD
    )
    unknown = await token_request(
        browser.api, grant_type="password", username="nobody@example.com", password=PASSWORD
    )

    body = assert_oauth_error(response, "invalid_grant")
    assert body == assert_oauth_error(unknown, "invalid_grant")


async def test_password_less_account_sets_a_password_through_the_reset_flow(
    browser: Browser, fake: FakeProvider, db: AsyncSession
) -> None:
    await browser.tokens()
    requested = await browser.api.post(f"{API}/auth/password-reset", json={"email": fake.email})
    assert requested.status_code == 202
    token = await mailed_token(db, fake.email, "password_reset")

    confirmed = await browser.api.post(
        f"{API}/auth/password-reset/confirm",
        json={"token": token, "new_password": "brand-new-pass-9"},
    )

    assert confirmed.status_code == 204, confirmed.text
    await login(browser.api, fake.email, "brand-new-pass-9")
    # Google still works too.
    await browser.tokens()


async def test_provider_email_in_another_unicode_form_finds_the_account(
    browser: Browser, fake: FakeProvider
) -> None:
    composed = f"zo\u00eb-{uuid.uuid4().hex[:8]}@example.com"
    user = await register(browser.api, email=composed)
    fake.email = unicodedata.normalize("NFD", composed)

    tokens = await browser.tokens()

    assert (await me(browser, tokens["access_token"]))["id"] == user["id"]
