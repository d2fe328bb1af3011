"""POST /auth/register: who may sign up, with what, and what they get back."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.helpers import (
    API,
    PASSWORD,
    assert_oauth_error,
    assert_problem,
    bearer,
    login,
    mailed_parts,
    outbox_for,
    register,
    token_request,
    unique_email,
)

USER_FIELDS = {"id", "email", "full_name", "role", "email_verified", "created_at"}


async def post_register(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post(f"{API}/auth/register", json=body)


async def test_register_answers_201_with_the_new_account(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await post_register(client, email=email, password=PASSWORD, full_name="Ada Lovelace")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body.keys() >= USER_FIELDS
    uuid.UUID(body["id"])  # an opaque string id
    assert body["email"] == email
    assert body["full_name"] == "Ada Lovelace"
    assert body["role"] == "student"
    assert body["email_verified"] is False
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None


async def test_register_never_returns_the_password_or_its_hash(client: httpx.AsyncClient) -> None:
    password = "Sekret-pass-42"
    response = await post_register(
        client, email=unique_email(), password=password, full_name="Grace"
    )

    assert response.status_code == 201
    assert not {"password", "password_hash", "hashed_password"} & response.json().keys()
    assert password not in response.text
    assert "$2b$" not in response.text  # no bcrypt hash either


async def test_role_in_register_body_is_ignored_and_the_account_is_a_student(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    response = await post_register(
        client, email=email, password=PASSWORD, full_name="Mallory", role="admin"
    )

    assert response.status_code == 201, response.text
    assert response.json()["role"] == "student"
    tokens = await login(client, email)
    me = await client.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["role"] == "student"
    admin_only = await client.get(f"{API}/users", headers=bearer(tokens["access_token"]))
    assert_problem(admin_only, 403, "forbidden")


async def test_registered_member_can_sign_in_with_the_password(client: httpx.AsyncClient) -> None:
    user = await register(client)

    tokens = await login(client, user["email"])

    me = await client.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]


async def test_register_with_a_taken_email_is_409_email_taken(client: httpx.AsyncClient) -> None:
    user = await register(client)

    response = await post_register(
        client, email=user["email"], password="another-pass-9", full_name="Copycat"
    )

    assert_problem(response, 409, "email_taken")
    # The first account keeps its password.
    await login(client, user["email"])


async def test_email_taken_ignores_letter_case(client: httpx.AsyncClient) -> None:
    email = unique_email("Mixed.Case")
    await register(client, email=email)

    response = await post_register(
        client, email=email.upper(), password=PASSWORD, full_name="Shouty"
    )

    assert_problem(response, 409, "email_taken")


async def test_email_is_stored_lower_case_and_signs_in_in_any_case(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email("Camel.Case")
    user = await register(client, email=email)

    assert user["email"] == email.lower()
    tokens = await login(client, email.upper())
    assert tokens["token_type"] == "bearer"


@pytest.mark.parametrize(
    "email", ["not-an-email", "missing-domain@", "@example.com", "two@@example.com", ""]
)
async def test_bad_email_is_422_validation_error(client: httpx.AsyncClient, email: str) -> None:
    response = await post_register(client, email=email, password=PASSWORD, full_name="Bad Email")

    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == "email" for error in body["errors"]), body


async def test_missing_fields_are_422_listing_each_of_them(client: httpx.AsyncClient) -> None:
    response = await post_register(client)

    body = assert_problem(response, 422, "validation_error")
    assert {error["loc"][-1] for error in body["errors"]} == {"email", "password", "full_name"}


# bytes, not characters: "é" is two bytes in UTF-8.
WEAK_PASSWORDS = {
    "no_digit": "only-letters-here",
    "no_letter": "1234567890",
    "seven_bytes": "abc1234",
    "seventy_three_ascii_bytes": "a1" * 36 + "b",
    "seventy_three_utf8_bytes_in_37_characters": "é" * 36 + "1",
}


@pytest.mark.parametrize("password", WEAK_PASSWORDS.values(), ids=WEAK_PASSWORDS.keys())
async def test_weak_password_is_422_without_echoing_it(
    client: httpx.AsyncClient, password: str
) -> None:
    email = unique_email()
    response = await post_register(client, email=email, password=password, full_name="Weak")

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"], body
    for error in body["errors"]:
        assert isinstance(error["loc"], list)
        assert isinstance(error["msg"], str)
        assert error["msg"]
    assert any(error["loc"][-1] == "password" for error in body["errors"]), body
    assert password not in response.text
    assert password not in json.dumps(body)  # nor \u-escaped
    # Nothing was created: the address is still free.
    assert (
        await post_register(client, email=email, password=PASSWORD, full_name="W")
    ).status_code == 201


def test_the_weak_password_samples_measure_what_their_names_say() -> None:
    assert len(WEAK_PASSWORDS["seven_bytes"].encode()) == 7
    assert len(WEAK_PASSWORDS["seventy_three_ascii_bytes"].encode()) == 73
    sample = WEAK_PASSWORDS["seventy_three_utf8_bytes_in_37_characters"]
    assert (len(sample), len(sample.encode())) == (37, 73)


ACCEPTABLE_PASSWORDS = {
    "eight_bytes": "abcdefg1",
    "eight_bytes_in_six_characters": "éé1abc",
    "fifty_one_utf8_bytes": "é" * 25 + "1",
    "seventy_two_utf8_bytes": "é" * 35 + "12",
    "non_latin_letters": "пароль-2024",
}


@pytest.mark.parametrize("password", ACCEPTABLE_PASSWORDS.values(), ids=ACCEPTABLE_PASSWORDS.keys())
async def test_password_of_8_to_72_bytes_with_letter_and_digit_is_accepted(
    client: httpx.AsyncClient, password: str
) -> None:
    assert 8 <= len(password.encode()) <= 72
    user = await register(client, password=password)

    tokens = await login(client, user["email"], password)
    assert tokens["access_token"]


async def test_a_72_byte_password_is_checked_in_full(client: httpx.AsyncClient) -> None:
    password = "é" * 35 + "12"
    user = await register(client, password=password)

    # Differs only in its last byte-pair: must not sign in (nothing is silently cut).
    wrong = await token_request(
        client, grant_type="password", username=user["email"], password="é" * 35 + "13"
    )
    assert_oauth_error(wrong, "invalid_grant")


async def test_register_queues_a_welcome_message_with_a_verification_token(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client, full_name="Welcome Me")

    messages = await outbox_for(db, user["email"], "welcome")

    assert len(messages) == 1
    message = messages[0]
    assert str(message.user_id) == user["id"]
    mailed = mailed_parts(message)
    token = mailed["token"]
    assert isinstance(token, str)
    assert len(token) >= 32
    assert token in mailed["text"]  # the mail carries the link with the token


async def test_refused_registration_queues_no_mail(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await register(client)

    await post_register(client, email=user["email"], password=PASSWORD, full_name="Again")
    weak_email = unique_email()
    await post_register(client, email=weak_email, password="short", full_name="Weak")

    assert len(await outbox_for(db, user["email"], "welcome")) == 1
    assert await outbox_for(db, weak_email, "welcome") == []
