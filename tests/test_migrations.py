"""The Alembic migrations: they go up, down and up again, and build exactly the models' schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.migrations import alembic_config, include_object
from techtribe.models import Base
from tests.conftest import private_database


@pytest.fixture(scope="module")
async def scratch_url() -> AsyncIterator[str]:
    """An empty database of the lane under test, dropped afterwards."""
    async with private_database("techtribe_mig", migrate=False) as url:
        yield url


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


async def test_email_normal_form_migration_normalises_stored_addresses_but_never_merges(
    scratch_url: str,
) -> None:
    await alembic("downgrade", scratch_url, "base")
    await alembic("upgrade", scratch_url, "0007")
    nfc, nfd = "jos\u00e9@example.com", "jose\u0301@example.com"
    rows = {
        uuid.uuid4(): nfd,  # an OIDC account stored decomposed
        uuid.uuid4(): "ana@xn--bcher-kva.de",  # and with an ASCII-encoded domain
        uuid.uuid4(): "ren\u00e9@example.com",  # already normal
    }
    twin, twin_of = uuid.uuid4(), uuid.uuid4()
    rows[twin_of], rows[twin] = "zo\u00eb@example.com", "zoe\u0308@example.com"
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid()),
        sa.column("email", sa.String()),
        sa.column("full_name", sa.String()),
        sa.column("role", sa.String()),
        sa.column("is_active", sa.Boolean()),
        sa.column("email_verified", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    engine = create_async_engine(scratch_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                users.insert(),
                [
                    {
                        "id": user_id,
                        "email": email,
                        "full_name": "M",
                        "role": "student",
                        "is_active": True,
                        "email_verified": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for user_id, email in rows.items()
                ],
            )
        await alembic("upgrade", scratch_url, "head")
        async with engine.connect() as connection:
            stored = dict((await connection.execute(sa.select(users.c.id, users.c.email))).all())
    finally:
        await engine.dispose()

    assert sorted(stored.values()) == sorted(
        [
            nfc,
            "ana@b\u00fccher.de",
            "ren\u00e9@example.com",
            "zo\u00eb@example.com",
            "zoe\u0308@example.com",
        ]
    )
    assert stored[twin] == rows[twin]  # its normal form was taken: left for a person to merge
