"""Errors as the contract promises them: problem details, request ids, limits, no leaks."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.app import create_app
from techtribe.auth.models import User
from techtribe.config import Settings
from techtribe.db import SessionDep
from tests.conftest import client_for, make_settings, running_app
from tests.helpers import API, PASSWORD, assert_problem, unique_email

LIMIT = 2048


@contextlib.asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose lifespan has started (and is stopped on the way out, even on failure)."""
    async with contextlib.aclosing(running_app(settings)) as apps:
        yield await anext(apps)


# --- routing errors -------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"{API}/no-such-thing", "/no-such-thing", f"{API}/users/me/x"])
async def test_unknown_path_is_404_problem_not_found(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [("PUT", f"{API}/users/me"), ("DELETE", "/healthz")])
async def test_wrong_method_is_405_problem_method_not_allowed(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", f"{API}/courses", "GET, POST"),
        ("OPTIONS", f"{API}/courses/00000000-0000-4000-8000-000000000000", "DELETE, GET, PATCH"),
        ("PUT", f"{API}/users/me", "DELETE, GET, PATCH"),
        ("GET", f"{API}/auth/token", "POST"),
    ],
)
async def test_the_405_allow_header_lists_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allowed


# --- request bodies -------------------------------------------------------------------


async def test_malformed_json_is_422_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/register",
        content=b'{"email": "a@example.com", "password": ',
        headers={"Content-Type": "application/json"},
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]
    assert all({"loc", "msg"} <= error.keys() for error in body["errors"])


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("not-an-email", "Sup3r-Secret-Horse", id="bad-email"),
        pytest.param(unique_email(), "Sup3r-" + "Z" * 80, id="password-over-72-bytes"),
        pytest.param(unique_email(), "NoDigitsInThisSecret", id="password-without-digit"),
        pytest.param(unique_email(), "s3cr", id="password-too-short"),
    ],
)
async def test_register_422_never_echoes_the_password(
    client: httpx.AsyncClient, email: str, password: str
) -> None:
    response = await client.post(
        f"{API}/auth/register", json={"email": email, "password": password, "full_name": "Eve"}
    )

    body = assert_problem(response, 422, "validation_error")
    assert password not in response.text
    assert all("input" not in error for error in body["errors"])


async def test_body_over_the_limit_with_content_length_is_413(migrated: None) -> None:
    email = unique_email()
    big = {"email": email, "password": PASSWORD, "full_name": "Big", "pad": "x" * (2 * LIMIT)}
    async with (
        started(make_settings(max_body_bytes=LIMIT)) as app,
        client_for(app) as client,
    ):
        response = await client.post(f"{API}/auth/register", json=big)
        small = {"email": email, "password": PASSWORD, "full_name": "Small"}
        after = await client.post(f"{API}/auth/register", json=small)

    assert int(response.request.headers["Content-Length"]) > LIMIT
    assert_problem(response, 413, "payload_too_large")
    assert response.headers["X-Request-ID"]
    assert after.status_code == 201, "the refused body must not have created the account"


async def test_body_over_the_limit_sent_chunked_is_413(migrated: None) -> None:
    email = unique_email()
    document = json.dumps(
        {"email": email, "password": PASSWORD, "full_name": "Big", "pad": "x" * (2 * LIMIT)}
    ).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(document), 512):
            yield document[start : start + 512]

    async with (
        started(make_settings(max_body_bytes=LIMIT)) as app,
        client_for(app) as client,
    ):
        response = await client.post(
            f"{API}/auth/register",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        small = {"email": email, "password": PASSWORD, "full_name": "Small"}
        after = await client.post(f"{API}/auth/register", json=small)

    assert "Content-Length" not in response.request.headers
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert_problem(response, 413, "payload_too_large")
    assert after.status_code == 201, "the refused body must not have created the account"


# --- request ids ----------------------------------------------------------------------


async def test_every_response_carries_an_x_request_id(client: httpx.AsyncClient) -> None:
    responses = [
        await client.get("/healthz"),
        await client.get(f"{API}/users/me"),
        await client.get(f"{API}/nowhere"),
        await client.put(f"{API}/users/me"),
        await client.post(f"{API}/auth/register", json={}),
    ]

    assert [r.status_code for r in responses] == [200, 401, 404, 405, 422]
    request_ids = [r.headers.get("X-Request-ID") for r in responses]
    assert all(request_ids)
    assert len(set(request_ids)) == len(request_ids)


async def test_a_valid_incoming_request_id_is_echoed_back(client: httpx.AsyncClient) -> None:
    sent = str(uuid.uuid4())

    response = await client.get(f"{API}/users/me", headers={"X-Request-ID": sent})

    assert response.headers["X-Request-ID"] == sent


async def test_an_invalid_incoming_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})

    assert "script" not in response.headers["X-Request-ID"]
    assert uuid.UUID(response.headers["X-Request-ID"])


# --- unexpected failures --------------------------------------------------------------

SECRET_DETAIL = "boom: SELECT password_hash FROM users"


@pytest.fixture
async def fragile_app(migrated: None) -> AsyncIterator[FastAPI]:
    """Our app plus test routes that fail unexpectedly (one after writing to the database)."""
    app = create_app(make_settings())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET_DETAIL)

    @app.post("/boom-after-write/{email}")
    async def boom_after_write(email: str, session: SessionDep) -> None:
        session.add(User(email=email, full_name="Half Written", role="student"))
        await session.flush()
        raise RuntimeError(SECRET_DETAIL)

    async with app.router.lifespan_context(app):
        yield app


async def test_unexpected_failure_is_500_internal_error_with_the_request_id_and_no_traceback(
    fragile_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="techtribe.errors")
    async with client_for(fragile_app) as client:
        response = await client.get("/boom")

    body = assert_problem(response, 500, "internal_error")
    request_id = response.headers["X-Request-ID"]
    assert body["request_id"] == request_id
    assert request_id in body["detail"]
    for leak in ("Traceback", "RuntimeError", SECRET_DETAIL, "password_hash", 'File "'):
        assert leak not in response.text
    logged = [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and request_id in record.getMessage()
    ]
    assert logged, "the request id must appear in the server log"
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[0] is RuntimeError


async def test_unexpected_failure_echoes_the_callers_request_id(fragile_app: FastAPI) -> None:
    sent = str(uuid.uuid4())
    async with client_for(fragile_app) as client:
        response = await client.get("/boom", headers={"X-Request-ID": sent})

    body = assert_problem(response, 500, "internal_error")
    assert response.headers["X-Request-ID"] == body["request_id"] == sent


async def test_unexpected_failure_rolls_the_transaction_back(
    fragile_app: FastAPI, db: AsyncSession
) -> None:
    email = unique_email("half")
    async with client_for(fragile_app) as client:
        response = await client.post(f"/boom-after-write/{email}")

    assert_problem(response, 500, "internal_error")
    db.expire_all()
    assert await db.scalar(select(User).where(User.email == email)) is None
