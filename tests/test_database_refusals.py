"""Text PostgreSQL can't store (NUL characters) is the client's mistake: 4xx, never 500."""

from __future__ import annotations

import httpx

from tests.conftest import ON_POSTGRES
from tests.helpers import API, assert_oauth_error, assert_problem, unique_email


async def test_nul_in_a_query_parameter_is_422_on_postgresql(client: httpx.AsyncClient) -> None:
    for params in ({"q": "py\x00thon"}, {"tag": "a\x00b"}):
        response = await client.get(f"{API}/courses", params=params)
        if ON_POSTGRES:
            assert_problem(response, 422, "validation_error")
        else:  # SQLite stores NUL like any character, and finds nothing
            assert response.json()["items"] == []


async def test_nul_in_a_body_is_422_and_stores_nothing(client: httpx.AsyncClient) -> None:
    email = unique_email()
    body = {"email": email, "password": "abcdefg1", "full_name": "Ada\u0000Lovelace"}

    response = await client.post(f"{API}/auth/register", json=body)

    if not ON_POSTGRES:
        assert response.status_code == 201, response.text
        return
    assert_problem(response, 422, "validation_error")
    again = await client.post(f"{API}/auth/register", json={**body, "full_name": "Ada"})
    assert again.status_code == 201, again.text


async def test_nul_at_the_token_endpoint_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": "a\x00@example.com", "password": "x"},
    )
    assert_oauth_error(response, "invalid_request")
