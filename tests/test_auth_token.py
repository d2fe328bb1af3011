"""POST /auth/token: the password grant, refresh rotation, reuse detection, RFC 6749 errors."""

from __future__ import annotations

import httpx
import pytest
from jose import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.config import Settings
from techtribe.security import encode_jwt
from tests.helpers import (
    API,
    PASSWORD,
    assert_oauth_error,
    assert_unauthorized,
    bearer,
    login,
    member,
    refresh,
    register,
    token_request,
    unique_email,
)


async def me(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get(f"{API}/users/me", headers=bearer(access_token))


async def deactivate(
    client: httpx.AsyncClient, admin_headers: dict[str, str], user_id: str
) -> None:
    response = await client.patch(
        f"{API}/users/{user_id}", json={"is_active": False}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False


# --- the password grant -------------------------------------------------------------


async def test_password_grant_answers_a_bearer_token_pair(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await register(client)

    response = await token_request(
        client, grant_type="password", username=user["email"], password=PASSWORD
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body.keys() >= {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert body["access_token"] != body["refresh_token"]
    assert (await me(client, body["access_token"])).json()["id"] == user["id"]


async def test_token_success_is_never_cached(client: httpx.AsyncClient) -> None:
    user = await register(client)

    response = await token_request(
        client, grant_type="password", username=user["email"], password=PASSWORD
    )

    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]


async def test_access_token_carries_the_contract_claims(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)

    claims = jwt.get_unverified_claims(alice.access)

    assert claims["sub"] == alice.id
    assert claims["type"] == "access"
    assert isinstance(claims["jti"], str)
    assert claims["jti"]
    assert isinstance(claims["iat"], int)
    assert isinstance(claims["exp"], int)
    assert claims["exp"] > claims["iat"]
    assert claims["role"] == "student"
    assert claims["fresh"] is True


async def test_every_login_gets_tokens_with_their_own_jti(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    second = await login(client, alice.email)

    first_jti = jwt.get_unverified_claims(alice.access)["jti"]
    assert jwt.get_unverified_claims(second["access_token"])["jti"] != first_jti
    assert second["refresh_token"] != alice.refresh


async def test_access_token_role_claim_follows_the_stored_role(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")

    assert jwt.get_unverified_claims(instructor.access)["role"] == "instructor"


async def test_wrong_password_and_unknown_email_get_byte_identical_answers(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)

    wrong_password = await token_request(
        client, grant_type="password", username=user["email"], password="wrong-pass-1"
    )
    unknown_email = await token_request(
        client, grant_type="password", username=unique_email("nobody"), password="wrong-pass-1"
    )

    assert_oauth_error(wrong_password, "invalid_grant")
    assert_oauth_error(unknown_email, "invalid_grant")
    assert wrong_password.content == unknown_email.content
    assert wrong_password.headers["content-type"] == unknown_email.headers["content-type"]
    assert wrong_password.headers["cache-control"] == unknown_email.headers["cache-control"]


async def test_password_longer_than_72_bytes_never_signs_in(client: httpx.AsyncClient) -> None:
    password = "é" * 35 + "12"  # 72 bytes: the longest accepted
    user = await register(client, password=password)

    # bcrypt compares only 72 bytes: the extra bytes must not be silently cut off.
    response = await token_request(
        client, grant_type="password", username=user["email"], password=password + "x"
    )

    assert_oauth_error(response, "invalid_grant")


@pytest.mark.parametrize("known", [True, False], ids=["known_email", "unknown_email"])
async def test_huge_password_is_invalid_grant_not_a_server_error(
    client: httpx.AsyncClient, known: bool
) -> None:
    email = (await register(client))["email"] if known else unique_email("nobody")

    response = await token_request(
        client, grant_type="password", username=email, password="a1" * 5000
    )

    assert_oauth_error(response, "invalid_grant")


MISSING_PARAMETERS = {
    "grant_type": {"username": "someone@example.com", "password": PASSWORD},
    "username": {"grant_type": "password", "password": PASSWORD},
    "password": {"grant_type": "password", "username": "someone@example.com"},
    "refresh_token": {"grant_type": "refresh_token"},
    "everything": {},
}


@pytest.mark.parametrize("form", MISSING_PARAMETERS.values(), ids=MISSING_PARAMETERS.keys())
async def test_missing_parameter_is_400_invalid_request(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    response = await token_request(client, **form)

    body = assert_oauth_error(response, "invalid_request")
    assert set(body) == {"error", "error_description"}


@pytest.mark.parametrize("grant_type", ["client_credentials", "authorization_code", "PASSWORD"])
async def test_unknown_grant_is_400_unsupported_grant_type(
    client: httpx.AsyncClient, grant_type: str
) -> None:
    response = await token_request(
        client, grant_type=grant_type, username="someone@example.com", password=PASSWORD
    )

    assert_oauth_error(response, "unsupported_grant_type")


async def test_json_body_instead_of_form_is_400_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)

    response = await client.post(
        f"{API}/auth/token",
        json={"grant_type": "password", "username": user["email"], "password": PASSWORD},
    )

    assert_oauth_error(response, "invalid_request")


async def test_token_errors_are_rfc6749_bodies_not_problem_details(
    client: httpx.AsyncClient,
) -> None:
    response = await token_request(client, grant_type="password", username="x@example.com")

    assert_oauth_error(response, "invalid_request")
    assert not response.headers["content-type"].startswith("application/problem+json")
    assert set(response.json()) == {"error", "error_description"}


async def test_deactivated_account_gets_invalid_grant_for_both_grants(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    alice = await member(client, db)
    await deactivate(client, admin.headers, alice.id)

    password_grant = await token_request(
        client, grant_type="password", username=alice.email, password=alice.password
    )
    refresh_grant = await refresh(client, alice.refresh)

    assert_oauth_error(password_grant, "invalid_grant")
    assert_oauth_error(refresh_grant, "invalid_grant")


# --- the refresh grant ----------------------------------------------------------------


async def test_refresh_grant_answers_a_new_pair(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    alice = await member(client, db)

    response = await refresh(client, alice.refresh)

    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert body["access_token"] != alice.access
    assert body["refresh_token"] != alice.refresh
    assert (await me(client, body["access_token"])).json()["id"] == alice.id


async def test_refresh_grant_tokens_are_not_fresh(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)

    body = (await refresh(client, alice.refresh)).json()

    claims = jwt.get_unverified_claims(body["access_token"])
    assert claims["fresh"] is False
    assert claims["type"] == "access"
    assert claims["sub"] == alice.id


async def test_rotated_refresh_token_keeps_rotating(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    current = alice.refresh

    for _ in range(3):
        response = await refresh(client, current)
        assert response.status_code == 200, response.text
        current = response.json()["refresh_token"]

    assert (await me(client, response.json()["access_token"])).status_code == 200


async def test_used_refresh_token_is_spent(client: httpx.AsyncClient, db: AsyncSession) -> None:
    alice = await member(client, db)
    assert (await refresh(client, alice.refresh)).status_code == 200

    again = await refresh(client, alice.refresh)

    assert_oauth_error(again, "invalid_grant")


async def test_spent_refresh_token_revokes_the_whole_login(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    rotated = (await refresh(client, alice.refresh)).json()
    assert (await me(client, rotated["access_token"])).status_code == 200

    reuse = await refresh(client, alice.refresh)

    assert_oauth_error(reuse, "invalid_grant")
    # Both the stolen and the legitimate copy of this login are dead now.
    assert_unauthorized(await me(client, rotated["access_token"]), "token_revoked")
    assert_unauthorized(await me(client, alice.access), "token_revoked")
    assert_oauth_error(await refresh(client, rotated["refresh_token"]), "invalid_grant")


async def test_refresh_reuse_leaves_the_users_other_logins_alone(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    other_login = await login(client, alice.email)
    assert (await refresh(client, alice.refresh)).status_code == 200

    assert_oauth_error(await refresh(client, alice.refresh), "invalid_grant")

    assert (await me(client, other_login["access_token"])).status_code == 200
    rotated = await refresh(client, other_login["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert (await me(client, rotated.json()["access_token"])).status_code == 200


async def test_access_token_is_refused_by_the_refresh_grant(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)

    response = await refresh(client, alice.access)

    assert_oauth_error(response, "invalid_grant")
    # The refusal spent nothing: the real refresh token still works.
    assert (await refresh(client, alice.refresh)).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 300])
async def test_garbage_refresh_token_is_invalid_grant(
    client: httpx.AsyncClient, token: str
) -> None:
    assert_oauth_error(await refresh(client, token), "invalid_grant")


async def test_refresh_token_signed_with_another_secret_is_invalid_grant(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    alice = await member(client, db)
    claims = jwt.get_unverified_claims(alice.refresh)
    forged = encode_jwt(
        claims, secret="someone-elses-secret-0123456789abcdef", algorithm=settings.jwt_algorithm
    )

    assert_oauth_error(await refresh(client, forged), "invalid_grant")
    # The genuine token was not spent by the forgery.
    assert (await refresh(client, alice.refresh)).status_code == 200


async def test_expired_refresh_token_is_invalid_grant(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    alice = await member(client, db)
    claims = jwt.get_unverified_claims(alice.refresh)
    claims.update(iat=claims["iat"] - 7200, exp=claims["iat"] - 3600)
    expired = encode_jwt(
        claims, secret=settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm
    )

    assert_oauth_error(await refresh(client, expired), "invalid_grant")
