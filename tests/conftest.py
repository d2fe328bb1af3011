"""Test set-up: a real database (PostgreSQL when it answers, else SQLite), the ASGI app over HTTP.

Lanes (`TEST_LANE`):
- `auto` (default): PostgreSQL and Redis on 127.0.0.1 if they answer, else SQLite and no
  Redis, and says so. With `CI=true` a missing service fails the run instead.
- `postgres`: PostgreSQL and Redis are required.
- `sqlite`: the embedded mode (SQLite file, no Redis), whatever is running.
`TEST_DATABASE_URL` / `TEST_REDIS_URL` point the postgres lane elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from techtribe.app import create_app
from techtribe.config import Settings
from techtribe.errors import ERROR_CODES
from techtribe.migrations import upgrade_engine
from techtribe.notifications.rendering import Email
from techtribe.notifications.transports import ConsoleTransport
from tests.helpers import DELIVERED

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# One database per run (by process id), so parallel runs on one machine don't collide.
PG_TEST_DB = os.environ.get("TEST_PG_DATABASE", f"techtribe_test_{os.getpid()}")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


async def _postgres_answers() -> bool:
    try:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


async def redis_answers(url: str = REDIS_URL, seconds: float = 2.0) -> bool:
    """Whether a Redis answers PING at `url` within `seconds`."""
    client = aioredis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


def pg_database_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the test PostgreSQL server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_database(name: str, *, create_again: bool = False) -> None:
    """Drop database `name` on the test PostgreSQL server (if there), and create it empty."""
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create_again:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _fresh_postgres_database() -> str:
    await drop_database(PG_TEST_DB, create_again=True)
    return pg_database_url(PG_TEST_DB)


def _choose_backends() -> tuple[str, str | None, str]:
    """(database URL, Redis URL or None, a line saying what was chosen)."""
    lane = os.environ.get("TEST_LANE", "auto")
    if lane == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="techtribe-test-")) / "test.db"
        return f"sqlite+aiosqlite:///{path}", None, "lane sqlite: SQLite file, no Redis"
    if explicit := os.environ.get("TEST_DATABASE_URL"):
        return explicit, os.environ.get("TEST_REDIS_URL"), "database from TEST_DATABASE_URL"
    pg_up = asyncio.run(_postgres_answers())
    redis_up = asyncio.run(redis_answers())
    if lane == "postgres" or _in_ci():
        missing = [name for name, up in (("PostgreSQL", pg_up), ("Redis", redis_up)) if not up]
        if missing:
            pytest.exit(
                f"{' and '.join(missing)} not reachable ({PG_ADMIN_DSN}, {REDIS_URL}); "
                "CI and TEST_LANE=postgres need both",
                returncode=3,
            )
    if not pg_up:
        path = Path(tempfile.mkdtemp(prefix="techtribe-test-")) / "test.db"
        note = "PostgreSQL not reachable: falling back to SQLite and in-process jobs"
        return f"sqlite+aiosqlite:///{path}", None, note
    url = asyncio.run(_fresh_postgres_database())
    redis_url = REDIS_URL if redis_up else None
    redis_note = " with Redis" if redis_up else ", Redis not reachable: no Redis"
    note = f"PostgreSQL at {url}{redis_note}"
    return url, redis_url, note


DATABASE_URL, TEST_REDIS, BACKEND_NOTE = _choose_backends()
ON_POSTGRES = DATABASE_URL.startswith("postgresql")


def pytest_report_header() -> str:
    return f"techtribe test backends: {BACKEND_NOTE}"


# Every Redis key of this run carries it (limits, locks, saq queues), so it can be dropped.
RUN_KEY_PREFIX = f"techtribe-test-{os.getpid()}"


def pytest_sessionfinish() -> None:
    if ON_POSTGRES and not os.environ.get("TEST_DATABASE_URL"):
        asyncio.run(drop_database(PG_TEST_DB))
    if TEST_REDIS:
        asyncio.run(_drop_redis_keys())


async def _drop_redis_keys() -> None:
    client = aioredis.from_url(TEST_REDIS)
    try:
        async for key in client.scan_iter(match=f"*{RUN_KEY_PREFIX}-*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


def make_settings(**overrides: object) -> Settings:
    """Test settings: cheap bcrypt, and Redis keys of their own so runs don't share state."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": DATABASE_URL,
        "redis_url": TEST_REDIS,
        "redis_key_prefix": f"{RUN_KEY_PREFIX}-{uuid.uuid4().hex[:12]}",
        "bcrypt_rounds": 4,
        "jwt_secret": "test-secret-0123456789abcdef0123456789",
        "outbox_poll_seconds": 0.5,
        "log_format": "text",
        # A fresh app's first connection has taken over 2 s (the default) on a CI machine
        # busy with the other test processes; /readyz's tests are about answers, not load.
        "ready_timeout_seconds": 10.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def record_console_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep what the console transport delivers, as an inbox would (`helpers.DELIVERED`):
    once sent, a message's one-time link is in the e-mail only, no longer in the database."""
    original = ConsoleTransport.send

    async def send(self: ConsoleTransport, email: Email) -> None:
        DELIVERED[email.message_id] = email
        await original(self, email)

    monkeypatch.setattr(ConsoleTransport, "send", send)


@contextlib.asynccontextmanager
async def private_database(prefix: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """A database of the caller's own on the lane under test (its URL), migrated unless told
    otherwise, dropped afterwards: for tests that look at every row of a table, or whose
    processes sweep the outbox, where other tests' rows would get in the way."""
    if ON_POSTGRES:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        await drop_database(name, create_again=True)
        url = pg_database_url(name)
    else:
        directory = tempfile.mkdtemp(prefix=f"{prefix}-")
        url = f"sqlite+aiosqlite:///{Path(directory) / 'private.db'}"
    try:
        if migrate:
            engine = create_async_engine(url, poolclass=NullPool)
            try:
                await upgrade_engine(engine)
            finally:
                await engine.dispose()
        yield url
    finally:
        if ON_POSTGRES:
            await drop_database(name)
        else:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
async def migrated() -> None:
    """The schema comes from the migrations, as in production (never `create_all`)."""
    engine = create_async_engine(DATABASE_URL, poolclass=NullPool)
    await upgrade_engine(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def engine(migrated: None) -> AsyncIterator[AsyncEngine]:
    """An engine for tests to look into the database directly (outbox, stored rows)."""
    engine = create_async_engine(DATABASE_URL, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session


@pytest.fixture
def settings() -> Settings:
    return make_settings()


async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def app(migrated: None, settings: Settings) -> AsyncIterator[FastAPI]:
    async for running in running_app(settings):
        yield running


def client_for(
    app: FastAPI, address: str | None = None, base_url: str = "http://testserver"
) -> httpx.AsyncClient:
    """An HTTP client on the ASGI app; each gets its own client address (login throttling)."""
    if address is None:
        octets = (uuid.uuid4().int % 250 for _ in range(3))
        address = "10." + ".".join(str(octet) for octet in octets)
    transport = httpx.ASGITransport(app=app, client=(address, 40000), raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport,
        base_url=base_url,
        event_hooks={"response": [_problem_code_is_in_the_contract]},
    )


async def _problem_code_is_in_the_contract(response: httpx.Response) -> None:
    """Every problem any test provokes carries a code of the OpenAPI `ProblemCode` enum:
    a generated client fails to parse any other."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return
    if response.request.method == "HEAD":
        return  # the problem's headers without its body
    await response.aread()
    code = response.json().get("code")
    assert code in ERROR_CODES, f"problem code {code!r} is not in errors.ERROR_CODES"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http
