"""Tokens sent by e-mail: verifying the address and resetting a forgotten password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import OneTimeToken
from techtribe.security import token_digest
from tests.helpers import (
    API,
    PASSWORD,
    assert_oauth_error,
    assert_problem,
    assert_unauthorized,
    bearer,
    login,
    mailed_parts,
    mailed_token,
    member,
    outbox_for,
    refresh,
    register,
    token_request,
    unique_email,
)

NEW_PASSWORD = "fresh-start-2024"


async def me(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.get(f"{API}/users/me", headers=bearer(access_token))


async def verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/verify-email", json={"token": token})


async def ask_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(f"{API}/auth/password-reset", json={"email": email})


async def confirm_reset(
    client: httpx.AsyncClient, token: str, new_password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
    )


async def reset_token(client: httpx.AsyncClient, db: AsyncSession, email: str) -> str:
    assert (await ask_reset(client, email)).status_code == 202
    return await mailed_token(db, email, "password_reset")


# --- verify e-mail --------------------------------------------------------------------


async def test_welcome_token_verifies_the_email(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    assert (await me(client, alice.access)).json()["email_verified"] is False
    token = await mailed_token(db, alice.email, "welcome")

    response = await verify(client, token)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert (await me(client, alice.access)).json()["email_verified"] is True


async def test_verify_email_token_works_once(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await register(client)
    token = await mailed_token(db, user["email"], "welcome")
    assert (await verify(client, token)).status_code == 204

    assert_problem(await verify(client, token), 400, "invalid_token")


async def test_garbage_verify_token_is_400_invalid_token(client: httpx.AsyncClient) -> None:
    assert_problem(await verify(client, "not-a-real-token"), 400, "invalid_token")


async def test_verify_email_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(f"{API}/auth/verify-email", json={}), 422, "validation_error")


async def test_expired_verify_token_is_400_invalid_token(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    token = await mailed_token(db, alice.email, "welcome")
    await expire(db, token)

    assert_problem(await verify(client, token), 400, "invalid_token")
    assert (await me(client, alice.access)).json()["email_verified"] is False


async def test_reset_token_does_not_verify_an_email(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    token = await reset_token(client, db, alice.email)

    assert_problem(await verify(client, token), 400, "invalid_token")
    # ...and was not spent by the attempt.
    assert (await confirm_reset(client, token)).status_code == 204


async def expire(db: AsyncSession, token: str) -> None:
    await db.execute(
        update(OneTimeToken)
        .where(OneTimeToken.token_digest == token_digest(token))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db.commit()


# --- asking for a reset ---------------------------------------------------------------


async def test_reset_request_answers_the_same_for_known_and_unknown_emails(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)

    known = await ask_reset(client, user["email"])
    unknown = await ask_reset(client, unique_email("nobody"))

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    for header in ("content-type", "content-length", "cache-control", "set-cookie", "location"):
        assert known.headers.get(header) == unknown.headers.get(header), header


async def test_reset_request_mails_a_token_to_a_known_email_only(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    stranger = unique_email("nobody")

    await ask_reset(client, user["email"])
    await ask_reset(client, stranger)

    messages = await outbox_for(db, user["email"], "password_reset")
    assert len(messages) == 1
    mailed = mailed_parts(messages[0])
    assert mailed["token"] in mailed["text"]
    assert await outbox_for(db, stranger, "password_reset") == []


async def test_reset_request_finds_the_account_whatever_the_letter_case(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client, email=unique_email("Case.Test"))

    assert (await ask_reset(client, user["email"].upper())).status_code == 202

    assert len(await outbox_for(db, user["email"], "password_reset")) == 1


async def test_reset_request_with_a_malformed_email_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await ask_reset(client, "not-an-email"), 422, "validation_error")


# --- confirming a reset ---------------------------------------------------------------


async def test_reset_confirm_sets_the_new_password(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    token = await reset_token(client, db, user["email"])

    response = await confirm_reset(client, token)

    assert response.status_code == 204, response.text
    assert response.content == b""
    old = await token_request(
        client, grant_type="password", username=user["email"], password=PASSWORD
    )
    assert_oauth_error(old, "invalid_grant")
    await login(client, user["email"], NEW_PASSWORD)


async def test_reset_confirm_revokes_every_existing_session(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    alice = await member(client, db)
    phone = await login(client, alice.email)
    rotated = (await refresh(client, phone["refresh_token"])).json()
    token = await reset_token(client, db, alice.email)

    assert (await confirm_reset(client, token)).status_code == 204

    for access in (alice.access, rotated["access_token"]):
        assert_unauthorized(await me(client, access), "token_revoked")
    for refresh_token in (alice.refresh, rotated["refresh_token"]):
        assert_oauth_error(await refresh(client, refresh_token), "invalid_grant")


async def test_reset_token_works_once(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await register(client)
    token = await reset_token(client, db, user["email"])
    assert (await confirm_reset(client, token)).status_code == 204

    assert_problem(await confirm_reset(client, token, "another-pass-99"), 400, "invalid_token")
    await login(client, user["email"], NEW_PASSWORD)  # the second try changed nothing


async def test_superseded_reset_token_is_400_invalid_token(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    first = await reset_token(client, db, user["email"])
    second = await reset_token(client, db, user["email"])
    assert first != second

    assert_problem(await confirm_reset(client, first), 400, "invalid_token")
    assert (await confirm_reset(client, second)).status_code == 204


async def test_expired_reset_token_is_400_invalid_token(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    token = await reset_token(client, db, user["email"])
    await expire(db, token)

    assert_problem(await confirm_reset(client, token), 400, "invalid_token")
    await login(client, user["email"], PASSWORD)


async def test_garbage_reset_token_is_400_invalid_token(client: httpx.AsyncClient) -> None:
    assert_problem(await confirm_reset(client, "not-a-real-token"), 400, "invalid_token")


async def test_verify_token_does_not_reset_a_password(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    welcome = await mailed_token(db, user["email"], "welcome")

    assert_problem(await confirm_reset(client, welcome), 400, "invalid_token")
    await login(client, user["email"], PASSWORD)


async def test_weak_new_password_is_422_and_leaves_the_token_usable(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)
    token = await reset_token(client, db, user["email"])

    weak = await confirm_reset(client, token, "password")

    body = assert_problem(weak, 422, "validation_error")
    assert any(error["loc"][-1] == "new_password" for error in body["errors"])
    assert all("input" not in error for error in body["errors"])  # the password is not echoed
    assert (await confirm_reset(client, token)).status_code == 204
