"""Alembic environment (async): the URL comes from TechTribe's settings or the caller."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.config import get_settings
from techtribe.migrations import include_object
from techtribe.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    # `techtribe migrate` and the tests pass the URL; plain `alembic` uses DATABASE_URL.
    url = config.attributes.get("database_url") or get_settings().database_url
    return str(url)


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=database_url().startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


MIGRATION_LOCK = 74657368


def do_run_migrations(connection: Connection) -> None:
    on_postgresql = connection.dialect.name == "postgresql"
    if on_postgresql:
        # Replicas starting together migrate one at a time; the others then find nothing
        # left to do. A session lock, not a transaction's: a revision that builds indexes
        # concurrently commits on its way.
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can't ALTER most things: batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object(connection.dialect.name),
        # Each revision in its own transaction, as `autocommit_block` expects.
        transaction_per_migration=True,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if on_postgresql:
            connection.rollback()  # whatever a failed revision left open
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif (connection := config.attributes.get("connection")) is not None:
    # Called from async code through `AsyncConnection.run_sync` (see techtribe.migrations).
    do_run_migrations(connection)
else:
    asyncio.run(run_async_migrations())
