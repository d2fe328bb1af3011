"""Failed logins are throttled per account and per client address; successes never count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for, make_settings, running_app
from tests.helpers import PASSWORD, assert_oauth_error, login, register, token_request, unique_email

LIMIT = 3
WINDOW_SECONDS = 600


@pytest.fixture
async def account_limited_app(migrated: None) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        login_max_failures_per_account=LIMIT, login_failure_window_seconds=WINDOW_SECONDS
    )
    async for running in running_app(settings):
        yield running


@pytest.fixture
async def address_limited_app(migrated: None) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        login_max_failures_per_address=LIMIT, login_failure_window_seconds=WINDOW_SECONDS
    )
    async for running in running_app(settings):
        yield running


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await token_request(client, grant_type="password", username=email, password=password)


async def fail(client: httpx.AsyncClient, email: str, times: int = 1) -> None:
    for _ in range(times):
        assert_oauth_error(await attempt(client, email, "wrong-pass-1"), "invalid_grant")


def assert_throttled(response: httpx.Response, window: int = WINDOW_SECONDS) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "too_many_attempts"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= window
    assert "no-store" in response.headers["cache-control"]


# --- per account ----------------------------------------------------------------------


async def test_past_the_account_limit_even_the_right_password_gets_429(
    account_limited_app: FastAPI,
) -> None:
    async with client_for(account_limited_app) as client:
        user = await register(client)
        await fail(client, user["email"], LIMIT)

        assert_throttled(await attempt(client, user["email"], PASSWORD))


async def test_throttled_answer_is_the_same_for_right_and_wrong_passwords(
    account_limited_app: FastAPI,
) -> None:
    async with client_for(account_limited_app) as client:
        user = await register(client)
        await fail(client, user["email"], LIMIT)

        right = await attempt(client, user["email"], PASSWORD)
        wrong = await attempt(client, user["email"], "wrong-pass-1")

    assert_throttled(right)
    assert_throttled(wrong)
    assert right.json() == wrong.json()


async def test_failures_below_the_account_limit_do_not_block(
    account_limited_app: FastAPI,
) -> None:
    async with client_for(account_limited_app) as client:
        user = await register(client)
        await fail(client, user["email"], LIMIT - 1)

        assert (await attempt(client, user["email"], PASSWORD)).status_code == 200


async def test_account_limit_holds_from_any_address(account_limited_app: FastAPI) -> None:
    async with client_for(account_limited_app) as attacker:
        user = await register(attacker)
        await fail(attacker, user["email"], LIMIT)

    async with client_for(account_limited_app, "10.77.77.77") as elsewhere:
        assert_throttled(await attempt(elsewhere, user["email"], PASSWORD))


async def test_account_limit_counts_the_email_in_any_letter_case(
    account_limited_app: FastAPI,
) -> None:
    async with client_for(account_limited_app) as client:
        user = await register(client)
        for variant in (user["email"].upper(), user["email"].title(), user["email"]):
            await fail(client, variant)

        assert_throttled(await attempt(client, user["email"], PASSWORD))


async def test_a_throttled_account_leaves_other_accounts_alone(
    account_limited_app: FastAPI,
) -> None:
    async with client_for(account_limited_app) as attacker:
        victim = await register(attacker)
        await fail(attacker, victim["email"], LIMIT)
    async with client_for(account_limited_app, "10.66.66.66") as bystander:
        other = await register(bystander)

        assert (await attempt(bystander, other["email"], PASSWORD)).status_code == 200


async def test_successful_logins_do_not_count_as_failures(account_limited_app: FastAPI) -> None:
    async with client_for(account_limited_app) as client:
        user = await register(client)
        for _ in range(LIMIT + 2):
            await login(client, user["email"])
        await fail(client, user["email"], LIMIT - 1)

        assert (await attempt(client, user["email"], PASSWORD)).status_code == 200


async def test_unknown_emails_are_throttled_like_known_ones(account_limited_app: FastAPI) -> None:
    ghost = unique_email("ghost")
    async with client_for(account_limited_app) as client:
        await fail(client, ghost, LIMIT)

        assert_throttled(await attempt(client, ghost, "wrong-pass-1"))


async def test_concurrent_failures_get_no_more_guesses_than_the_limit(
    account_limited_app: FastAPI,
) -> None:
    async with client_for(account_limited_app) as client:
        user = await register(client)
        responses = await asyncio.gather(
            *(attempt(client, user["email"], "wrong-pass-1") for _ in range(3 * LIMIT))
        )

    statuses = [response.status_code for response in responses]
    assert statuses.count(400) <= LIMIT, statuses
    assert statuses.count(429) == 2 * LIMIT, statuses


# --- per client address ---------------------------------------------------------------


async def test_past_the_address_limit_every_account_from_it_gets_429(
    address_limited_app: FastAPI,
) -> None:
    async with client_for(address_limited_app, "10.9.9.9") as sprayer:
        target = await register(sprayer)
        for _ in range(LIMIT):
            await fail(sprayer, (await register(sprayer))["email"])

        assert_throttled(await attempt(sprayer, target["email"], PASSWORD))


async def test_address_limit_leaves_other_addresses_alone(address_limited_app: FastAPI) -> None:
    async with client_for(address_limited_app, "10.9.9.9") as sprayer:
        target = await register(sprayer)
        for _ in range(LIMIT):
            await fail(sprayer, unique_email("spray"))
        assert_throttled(await attempt(sprayer, target["email"], PASSWORD))

    async with client_for(address_limited_app, "10.8.8.8") as owner:
        assert (await attempt(owner, target["email"], PASSWORD)).status_code == 200


async def test_failures_below_the_address_limit_do_not_block(
    address_limited_app: FastAPI,
) -> None:
    async with client_for(address_limited_app, "10.9.9.9") as client:
        target = await register(client)
        for _ in range(LIMIT - 1):
            await fail(client, unique_email("spray"))

        assert (await attempt(client, target["email"], PASSWORD)).status_code == 200


async def test_concurrent_failures_from_one_address_get_no_more_guesses_than_the_limit(
    address_limited_app: FastAPI,
) -> None:
    async with client_for(address_limited_app, "10.9.9.9") as sprayer:
        responses = await asyncio.gather(
            *(attempt(sprayer, unique_email("spray"), "wrong-pass-1") for _ in range(3 * LIMIT))
        )

    statuses = [response.status_code for response in responses]
    assert statuses.count(400) <= LIMIT, statuses
    assert statuses.count(429) == 2 * LIMIT, statuses


async def test_default_account_limit_is_five_failures(client: httpx.AsyncClient) -> None:
    user = await register(client)
    await fail(client, user["email"], 4)
    assert (await attempt(client, user["email"], PASSWORD)).status_code == 200

    await fail(client, user["email"])

    assert_throttled(await attempt(client, user["email"], PASSWORD), window=900)
