"""Bearer tokens in use: logout, revocation across instances, freshness, deactivation, bad ones."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.config import Settings
from techtribe.security import encode_jwt
from tests.conftest import client_for, make_settings, running_app
from tests.helpers import (
    API,
    PASSWORD,
    Member,
    assert_oauth_error,
    assert_problem,
    assert_unauthorized,
    bearer,
    login,
    member,
    refresh,
    token_request,
)

OTHER_SECRET = "another-service-secret-0123456789abcdef"


@pytest.fixture
async def second_app(migrated: None) -> AsyncIterator[FastAPI]:
    """Another server instance on the same database (its own engine, pool and throttle)."""
    async for running in running_app(make_settings()):
        yield running


async def me(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get(f"{API}/users/me", headers=bearer(access_token))


async def refreshed(client: httpx.AsyncClient, alice: Member) -> dict[str, str]:
    """The pair the refresh grant gives for alice's login (its access token is not fresh)."""
    response = await refresh(client, alice.refresh)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def signed(claims: dict[str, object], settings: Settings, secret: str | None = None) -> str:
    return encode_jwt(
        claims,
        secret=secret or settings.jwt_secret.get_secret_value(),
        algorithm=settings.jwt_algorithm,
    )


# --- logout ---------------------------------------------------------------------------


async def test_logout_answers_204_with_no_body(client: httpx.AsyncClient, db: AsyncSession) -> None:
    alice = await member(client, db)

    response = await client.post(f"{API}/auth/logout", headers=alice.headers)

    assert response.status_code == 204
    assert response.content == b""


async def test_logged_out_access_token_is_401_token_revoked(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    assert (await me(client, alice.access)).status_code == 200

    await client.post(f"{API}/auth/logout", headers=alice.headers)

    assert_unauthorized(await me(client, alice.access), "token_revoked")


async def test_logout_spends_the_refresh_token_of_that_login(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)

    await client.post(f"{API}/auth/logout", headers=alice.headers)

    assert_oauth_error(await refresh(client, alice.refresh), "invalid_grant")


async def test_logout_revokes_every_token_the_login_issued(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    rotated = await refreshed(client, alice)

    # Logging out with the newest access token ends the older one of the same login too.
    assert (
        await client.post(f"{API}/auth/logout", headers=bearer(rotated["access_token"]))
    ).status_code == 204

    assert_unauthorized(await me(client, alice.access), "token_revoked")
    assert_oauth_error(await refresh(client, rotated["refresh_token"]), "invalid_grant")


async def test_logout_leaves_the_users_other_logins_signed_in(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    phone = await login(client, alice.email)

    await client.post(f"{API}/auth/logout", headers=alice.headers)

    assert (await me(client, phone["access_token"])).status_code == 200
    assert (await refresh(client, phone["refresh_token"])).status_code == 200


async def test_logout_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.post(f"{API}/auth/logout"), "not_authenticated")


async def test_logout_is_seen_by_another_server_instance(
    client: httpx.AsyncClient, db: AsyncSession, second_app: FastAPI
) -> None:
    alice = await member(client, db)
    async with client_for(second_app) as other_instance:
        assert (await me(other_instance, alice.access)).status_code == 200

        assert (await client.post(f"{API}/auth/logout", headers=alice.headers)).status_code == 204

        assert_unauthorized(await me(other_instance, alice.access), "token_revoked")
        assert_oauth_error(await refresh(other_instance, alice.refresh), "invalid_grant")


async def test_logout_on_another_instance_revokes_here(
    client: httpx.AsyncClient, db: AsyncSession, second_app: FastAPI
) -> None:
    alice = await member(client, db)
    async with client_for(second_app) as other_instance:
        logout = await other_instance.post(f"{API}/auth/logout", headers=alice.headers)
        assert logout.status_code == 204

    assert_unauthorized(await me(client, alice.access), "token_revoked")
    assert_oauth_error(await refresh(client, alice.refresh), "invalid_grant")


# --- tokens that can't be used --------------------------------------------------------


async def test_no_token_is_401_not_authenticated(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.get(f"{API}/users/me"), "not_authenticated")


async def test_non_bearer_authorization_is_401_not_authenticated(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{API}/users/me", headers={"Authorization": "Basic YTpi"})

    assert_unauthorized(response, "not_authenticated")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.xxxx"])
async def test_garbage_token_is_401_invalid_token(client: httpx.AsyncClient, token: str) -> None:
    assert_unauthorized(await me(client, token), "invalid_token")


async def test_refresh_token_used_as_bearer_is_401_invalid_token(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)

    assert_unauthorized(await me(client, alice.refresh), "invalid_token")


async def test_expired_access_token_is_401_token_expired(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    alice = await member(client, db)
    claims = jwt.get_unverified_claims(alice.access)
    now = int(time.time())
    expired = signed({**claims, "iat": now - 3600, "exp": now - 60}, settings)

    assert_unauthorized(await me(client, expired), "token_expired")
    # The same claims, not expired, are accepted: only the expiry made the difference.
    assert (await me(client, signed({**claims, "exp": now + 60}, settings))).status_code == 200


async def test_access_token_signed_with_another_secret_is_401_invalid_token(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    alice = await member(client, db)
    forged = signed(jwt.get_unverified_claims(alice.access), settings, secret=OTHER_SECRET)

    assert_unauthorized(await me(client, forged), "invalid_token")


async def test_expired_token_with_a_wrong_signature_is_invalid_not_expired(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    alice = await member(client, db)
    claims = jwt.get_unverified_claims(alice.access)
    forged = signed({**claims, "exp": int(time.time()) - 60}, settings, secret=OTHER_SECRET)

    assert_unauthorized(await me(client, forged), "invalid_token")


async def test_unsigned_token_is_401_invalid_token(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    header, payload, _ = alice.access.split(".")
    alg_none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}

    for token in (f"{alg_none_header}.{payload}.", f"{header}.{payload}."):
        assert_unauthorized(await me(client, token), "invalid_token")


async def test_well_signed_token_for_an_unknown_login_is_401_invalid_token(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    alice = await member(client, db)
    claims = jwt.get_unverified_claims(alice.access)

    unknown_login = signed({**claims, "sid": str(uuid.uuid4())}, settings)
    no_login = signed({k: v for k, v in claims.items() if k != "sid"}, settings)
    unknown_user = signed({**claims, "sub": str(uuid.uuid4())}, settings)

    for token in (unknown_login, no_login, unknown_user):
        assert_unauthorized(await me(client, token), "invalid_token")


# --- fresh tokens ---------------------------------------------------------------------


async def test_change_password_with_a_refreshed_token_is_401_fresh_token_required(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    stale = await refreshed(client, alice)

    response = await client.post(
        f"{API}/users/me/password",
        json={"current_password": PASSWORD, "new_password": "brand-new-pass-7"},
        headers=bearer(stale["access_token"]),
    )

    assert_unauthorized(response, "fresh_token_required")
    await login(client, alice.email, PASSWORD)  # the password did not change


async def test_delete_account_with_a_refreshed_token_is_401_fresh_token_required(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    stale = await refreshed(client, alice)

    response = await client.delete(f"{API}/users/me", headers=bearer(stale["access_token"]))

    assert_unauthorized(response, "fresh_token_required")
    assert (await me(client, stale["access_token"])).json()["email"] == alice.email


async def test_delete_account_with_a_fresh_token_ends_every_session(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    phone = await login(client, alice.email)

    assert (await client.delete(f"{API}/users/me", headers=alice.headers)).status_code == 204

    assert (await me(client, alice.access)).status_code == 401
    assert (await me(client, phone["access_token"])).status_code == 401
    assert_oauth_error(await refresh(client, phone["refresh_token"]), "invalid_grant")
    gone = await token_request(
        client, grant_type="password", username=alice.email, password=alice.password
    )
    assert_oauth_error(gone, "invalid_grant")


# --- the user as stored now, not as the token says -------------------------------------


async def test_deactivated_members_existing_token_is_401_inactive_user_at_once(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    alice = await member(client, db)
    assert (await me(client, alice.access)).status_code == 200

    response = await client.patch(
        f"{API}/users/{alice.id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200, response.text

    assert_unauthorized(await me(client, alice.access), "inactive_user")
    logout = await client.post(f"{API}/auth/logout", headers=alice.headers)
    assert_unauthorized(logout, "inactive_user")


async def test_demoted_admins_token_loses_admin_rights_at_once(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    root = await member(client, db, role="admin")
    demoted = await member(client, db, role="admin")
    assert (await client.get(f"{API}/users", headers=demoted.headers)).status_code == 200

    response = await client.patch(
        f"{API}/users/{demoted.id}", json={"role": "student"}, headers=root.headers
    )
    assert response.status_code == 200, response.text

    assert_problem(await client.get(f"{API}/users", headers=demoted.headers), 403, "forbidden")


async def test_anonymous_caller_of_an_admin_endpoint_gets_401_not_403(
    client: httpx.AsyncClient,
) -> None:
    assert_unauthorized(await client.get(f"{API}/users"), "not_authenticated")


# --- changing the password ------------------------------------------------------------


async def change_password(
    client: httpx.AsyncClient, access_token: str, current: str, new: str
) -> httpx.Response:
    return await client.post(
        f"{API}/users/me/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(access_token),
    )


async def test_change_password_keeps_this_session_and_revokes_the_others(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    laptop = await login(client, alice.email)

    response = await change_password(client, alice.access, PASSWORD, "brand-new-pass-7")

    assert response.status_code == 204, response.text
    assert (await me(client, alice.access)).status_code == 200
    assert (await refresh(client, alice.refresh)).status_code == 200
    assert_unauthorized(await me(client, laptop["access_token"]), "token_revoked")
    assert_oauth_error(await refresh(client, laptop["refresh_token"]), "invalid_grant")


async def test_changed_password_replaces_the_old_one(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)

    assert (
        await change_password(client, alice.access, PASSWORD, "brand-new-pass-7")
    ).status_code == 204

    old = await token_request(
        client, grant_type="password", username=alice.email, password=PASSWORD
    )
    assert_oauth_error(old, "invalid_grant")
    await login(client, alice.email, "brand-new-pass-7")


async def test_change_password_with_a_wrong_current_password_is_400_invalid_password(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    laptop = await login(client, alice.email)

    response = await change_password(client, alice.access, "not-my-pass-1", "brand-new-pass-7")

    assert_problem(response, 400, "invalid_password")
    await login(client, alice.email, PASSWORD)
    assert (await me(client, laptop["access_token"])).status_code == 200  # nothing revoked


async def test_current_password_with_extra_bytes_past_72_is_wrong(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    password = "é" * 35 + "12"  # 72 bytes
    alice = await member(client, db, password=password)

    response = await change_password(client, alice.access, password + "x", "brand-new-pass-7")

    assert_problem(response, 400, "invalid_password")


async def test_change_password_to_a_weak_one_is_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)

    response = await change_password(client, alice.access, PASSWORD, "weakpassword")

    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == "new_password" for error in body["errors"])
    assert "weakpassword" not in response.text
    await login(client, alice.email, PASSWORD)
