"""The Alembic migrations: they go up, down and up again, and build exactly the models' schema."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.migrations import alembic_config, include_object
from techtribe.models import Base
from tests.conftest import ON_POSTGRES, PG_ADMIN_DSN


@pytest.fixture(scope="module")
async def scratch_url() -> AsyncIterator[str]:
    """An empty database of the lane under test, dropped afterwards."""
    if not ON_POSTGRES:
        with tempfile.TemporaryDirectory(prefix="techtribe-mig-") as directory:
            yield f"sqlite+aiosqlite:///{Path(directory) / 'scratch.db'}"
        return
    name = f"techtribe_mig_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def alembic(action: str, url: str, revision: str) -> None:
    # env.py runs its own event loop: keep it off this one.
    await asyncio.to_thread(getattr(command, action), alembic_config(url), revision)


async def inspect_db(url: str, look: Any) -> Any:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "include_object": include_object(connection.dialect.name)},
    )
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_downgrade_upgrade_round_trip(scratch_url: str) -> None:
    await alembic("upgrade", scratch_url, "head")
    after_first_upgrade = await inspect_db(scratch_url, tables)
    await alembic("downgrade", scratch_url, "base")
    after_downgrade = await inspect_db(scratch_url, tables)
    await alembic("upgrade", scratch_url, "head")
    after_second_upgrade = await inspect_db(scratch_url, tables)

    assert set(Base.metadata.tables) <= after_first_upgrade
    assert after_downgrade <= {"alembic_version"}
    assert after_second_upgrade == after_first_upgrade


async def test_models_and_migrations_agree(scratch_url: str) -> None:
    await alembic("upgrade", scratch_url, "head")

    diff = await inspect_db(scratch_url, schema_diff)

    assert diff == [], f"models and migrations differ (write a migration): {diff}"
