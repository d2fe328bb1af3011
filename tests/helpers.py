"""Factories for tests: members made through the API, looked at in the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import User
from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.rendering import Email, render
from techtribe.notifications.sealing import ERASED, Sealer, opened

API = "/api/v1"
PASSWORD = "correct-horse-1"


def unique_email(prefix: str = "member") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    full_name: str = "Test Member",
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/auth/register",
        json={"email": email or unique_email(), "password": password, "full_name": full_name},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def token_request(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await client.post(f"{API}/auth/token", data=form)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await token_request(client, grant_type="password", username=email, password=password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await token_request(client, grant_type="refresh_token", refresh_token=refresh_token)


@dataclass
class Member:
    id: str
    email: str
    password: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access)


async def set_role(db: AsyncSession, user_id: str, role: str) -> None:
    await db.execute(update(User).where(User.id == uuid.UUID(user_id)).values(role=role))
    await db.commit()


async def member(
    client: httpx.AsyncClient,
    db: AsyncSession,
    *,
    role: str = "student",
    full_name: str = "Test Member",
    password: str = PASSWORD,
) -> Member:
    """A registered, signed-in member with `role` (set in the database: no API grants it)."""
    user = await register(client, password=password, full_name=full_name)
    if role != "student":
        await set_role(db, user["id"], role)
    tokens = await login(client, user["email"], password)
    return Member(
        user["id"], user["email"], password, tokens["access_token"], tokens["refresh_token"]
    )


async def outbox_for(db: AsyncSession, recipient: str, kind: str) -> list[OutboxMessage]:
    """Messages queued for `recipient`, oldest first (tests read mailed tokens from here)."""
    db.expire_all()
    rows = await db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.recipient == recipient, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.created_at)
    )
    return list(rows)


# E-mails the console transport delivered in this process, by outbox message id.
DELIVERED: dict[str, Email] = {}
# The links of e-mails rendered with the tests' settings (`conftest.make_settings`).
BASE_URL = "http://localhost:8000"
# The tests' settings (`conftest.make_settings`) seal with this key.
TEST_SEALER = Sealer("test-secret-0123456789abcdef0123456789")


def rated_data(comment: str | None = "Lovely.") -> dict[str, Any]:
    """The data of a `poem_rated` message: the kind without a token, for outbox tests."""
    return {
        "name": "Ada",
        "poem_id": str(uuid.uuid4()),
        "poem_title": "Ode to asyncio",
        "score": 4,
        "comment": comment,
        "rater_name": "Grace",
    }


def mailed_parts(message: OutboxMessage) -> dict[str, Any]:
    """What the recipient reads: the message's data with its token, while sealed in the row
    (as the sender opens it), else from the e-mail delivered meanwhile; and `text`, the
    plain-text e-mail as the templates render it (links from the default PUBLIC_BASE_URL)."""
    payload = message.payload or {}
    if ERASED in payload:
        delivered = DELIVERED.get(str(message.id))
        assert delivered is not None, f"message {message.id}: token erased and not delivered"
        return {**payload, "token": delivered.secret, "text": delivered.text}
    data = opened(payload, TEST_SEALER)
    email = render(message, sender="TechTribe <test@techtribe.test>", base_url=BASE_URL, data=data)
    return {**data, "text": email.text}


async def mailed_token(db: AsyncSession, recipient: str, kind: str) -> str:
    """The one-time token of the newest `kind` message to `recipient`."""
    messages = await outbox_for(db, recipient, kind)
    assert messages, f"no {kind} message for {recipient}"
    return str(mailed_parts(messages[-1])["token"])


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert {"type", "title", "detail"} <= body.keys()
    return body


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> dict[str, Any]:
    """An RFC 6749 section 5.2 error of the token endpoint: its own format, never cached."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "no-store" in response.headers.get("cache-control", "")
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert isinstance(body["error_description"], str)
    return body


def assert_unauthorized(response: httpx.Response, code: str) -> dict[str, Any]:
    """A 401 problem with this code and the RFC 6750 `WWW-Authenticate: Bearer` challenge."""
    body = assert_problem(response, 401, code)
    assert response.headers.get("www-authenticate", "").startswith("Bearer"), response.headers
    return body


@contextmanager
def counting_queries(app: FastAPI) -> Iterator[list[str]]:
    """The SQL queries the app runs meanwhile, without the outbox sender's polling.

    The embedded mode delivers e-mail from a background task on the same engine; its
    statements (on the `outbox` table) and transaction control (`BEGIN IMMEDIATE` on
    SQLite) are not the request's queries.
    """
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "outbox" not in statement and not statement.startswith("BEGIN"):
            statements.append(statement)

    sync_engine = app.state.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
