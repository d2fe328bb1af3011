"""The two kinds of session on one pool: a write session holds one transaction, a read
session (and a bare connection, `db.ReadConnections`) commits each statement on its own, and
a connection a write used goes back to the pool in autocommit (db.create_engine,
db.create_sessionmaker)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from techtribe.db import create_autocommit_sessionmaker, create_engine, create_sessionmaker
from tests.conftest import ON_POSTGRES, make_settings

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="autocommit reads are PostgreSQL's")


async def _backend_and_one_transaction(
    reader: AsyncSession | AsyncConnection,
) -> tuple[int, bool]:
    """The server process behind a session or a bare connection, and whether its statements
    share one transaction: `now()` is the transaction's start, so two statements 20 ms apart
    see the same one only inside a transaction."""
    backend = (await reader.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    first = (await reader.execute(text("SELECT now()"))).scalar_one()
    await reader.execute(text("SELECT pg_sleep(0.02)"))
    second = (await reader.execute(text("SELECT now()"))).scalar_one()
    return backend, first == second


async def test_writes_hold_one_transaction_and_reads_none_on_the_same_connection() -> None:
    engine = create_engine(make_settings(database_pool_size=1))
    writes, reads = create_sessionmaker(engine), create_autocommit_sessionmaker(engine)
    try:
        async with reads() as session:
            read_backend, read_in_transaction = await _backend_and_one_transaction(session)
        async with writes() as session:
            write_backend, write_in_transaction = await _backend_and_one_transaction(session)
            await session.commit()
        async with reads() as session:
            after_backend, after_in_transaction = await _backend_and_one_transaction(session)
        async with engine.connect() as connection:
            bare_backend, bare_in_transaction = await _backend_and_one_transaction(connection)
    finally:
        await engine.dispose()

    assert read_backend == write_backend == after_backend == bare_backend  # the pool's one
    assert write_in_transaction
    assert not read_in_transaction
    assert not after_in_transaction  # the write's connection came back in autocommit
    assert not bare_in_transaction  # and so it is for a connection without a session
