"""Database plumbing: the declarative base, the async engine, and one session per request."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from asyncpg.exceptions import (
    CannotConnectNowError,
    PostgresConnectionError,
    TooManyConnectionsError,
)
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator

from techtribe.config import Settings

# Stable constraint names, so Alembic migrations can address them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# What the service's PostgreSQL connections call themselves (pg_stat_activity).
APPLICATION_NAME = "techtribe"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg hands back aware UTC datetimes for `timestamptz` whatever the session's
        # time zone: no per-value call there (a course page has forty of them).
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class json_list(GenericFunction[Any]):
    """The group's values as a JSON array (read back as a list; NULL on PostgreSQL when empty).

    One query brings a row and its children (a course and its tags) with no second round
    trip and no IN list per page.
    """

    type = JSON()
    inherit_cache = True
    sql_names = {"postgresql": "json_agg", "sqlite": "json_group_array"}


class json_object(GenericFunction[Any]):
    """A JSON object from alternating keys and values."""

    type = JSON()
    inherit_cache = True
    sql_names = {"postgresql": "json_build_object", "sqlite": "json_object"}


def _json_function(element: json_list | json_object, compiler: SQLCompiler, **kw: Any) -> str:
    """The function under its name on the compiling database."""
    return f"{element.sql_names[compiler.dialect.name]}({compiler.process(element.clauses, **kw)})"


compiles(json_list)(_json_function)
compiles(json_object)(_json_function)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UUIDPk:
    """A random UUID primary key (opaque string ids in the API)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


def create_engine(settings: Settings) -> AsyncEngine:
    """The async engine for `DATABASE_URL`: asyncpg on PostgreSQL, aiosqlite embedded.

    On PostgreSQL its connections are in autocommit mode (each statement commits on its
    own): a read is one round trip. Transactions are the sessions' business:
    `create_sessionmaker`'s sessions ask for one on every connection they take. Never
    `engine.begin()` for writes that belong together: nothing would hold them together.
    """
    # No pre-ping by default: it is a round trip per request. A connection the server
    # closed (a restart, pg_terminate_backend) is noticed for free when it is checked out
    # (`_replace_closed_connection`); recycling keeps connections younger than typical
    # idle timeouts.
    kwargs: dict[str, Any] = {
        "pool_pre_ping": settings.database_pool_pre_ping,
        "echo": settings.database_echo,
        "pool_recycle": 1800,
        # JSON columns and aggregates (a page's tags) parsed by orjson: several times faster.
        "json_deserializer": orjson.loads,
    }
    if settings.is_sqlite:
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = settings.database_pool_size
        kwargs["max_overflow"] = settings.database_pool_size
        # Autocommit is the connections' own setting, not an option each read session asks
        # for: an engine with an isolation option dispatches every execution event through
        # SQLAlchemy's joined listeners, 185 Python calls per read session (a `SELECT 1` on
        # a session 650 -> 465 calls; a course page, a tenth). Writes ask instead
        # (`create_sessionmaker`); the pool puts each connection back to autocommit when it
        # returns.
        kwargs["isolation_level"] = "AUTOCOMMIT"
        # asyncpg prepares every statement; after five runs PostgreSQL may switch to a
        # generic plan that ignores the values, and a filtered keyset page then sorts
        # everything after the cursor (see docs/performance.md). Planning each run costs ~1 ms.
        # application_name: an operator (or a test) finds the service's connections in
        # pg_stat_activity.
        kwargs["connect_args"] = {
            "server_settings": {
                "plan_cache_mode": "force_custom_plan",
                "application_name": APPLICATION_NAME,
            }
        }
    engine = create_async_engine(settings.database_url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        event.listen(engine.sync_engine, "checkout", _replace_closed_connection)
    return engine


def _replace_closed_connection(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled connection whose server end is gone is replaced before anyone uses it.

    When PostgreSQL ends a backend (restart, `pg_terminate_backend`, idle timeout) it
    says so and closes the socket; asyncpg notices on the event loop and marks the
    connection closed, so this costs no round trip. Raising `DisconnectionError` here
    makes the pool drop the connection and check out another (a new one if need be),
    before the request's transaction has done anything.
    """
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the database closed this pooled connection")


# SQLSTATEs of a database that is away, not of a request that is wrong: connection
# exceptions (class 08), shutdowns, too many connections.
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300", "53400"}
_SQLITE_UNAVAILABLE = ("database is locked", "disk i/o error", "unable to open database")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database (or the connection to it) failed, not the request.

    A transaction cut off this way was rolled back (a COMMIT that never answered is
    settled by whoever committed, e.g. checkout). The client may retry: `503`.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, InterfaceError):
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_STATES:
            return True
        # SQLite has no SQLSTATE: locked past busy_timeout, disk I/O, a file it can't open.
        # Its other OperationalErrors (no such table...) are bugs, not outages.
        message = str(exc.orig).lower()
        return isinstance(exc, OperationalError) and any(
            sign in message for sign in _SQLITE_UNAVAILABLE
        )
    if isinstance(exc, PoolTimeout):  # every connection busy for pool_timeout seconds
        return True
    # Opening a connection: refused, reset, timed out, unknown host; asyncpg's own
    # connection errors (e.g. "the database system is starting up") arrive unwrapped.
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    return isinstance(
        exc, PostgresConnectionError | CannotConnectNowError | TooManyConnectionsError
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling starts a transaction only before a write, and
    # none before a SAVEPOINT (whose release then commits): turn it off and let `begin`
    # below open every transaction, as SQLAlchemy's SQLite documentation recommends.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE: take the write lock up front. A deferred transaction that read first and
    # writes later fails at once (SQLITE_BUSY, no waiting) when another wrote meanwhile;
    # this way transactions queue on `busy_timeout` instead. The embedded mode trades
    # concurrency for that: one transaction at a time.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that run in a transaction (READ COMMITTED, PostgreSQL's default), committed
    or rolled back as a whole: for everything that writes more than one statement."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="READ COMMITTED")
    # expire_on_commit=False: responses are serialised from objects after the commit.
    return async_sessionmaker(engine, expire_on_commit=False)


def create_autocommit_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose statements each commit on their own on PostgreSQL (autocommit, the
    engine's connections as they are).

    For routes that only read (a page is one SELECT, so BEGIN and COMMIT would double its
    round trips for nothing) and for writes that are a single statement, atomic by
    themselves (the outbox's claim and mark). Never for several writes that belong
    together: nothing would hold them together. SQLite keeps its usual transaction, so
    write inside `session.begin()`: on PostgreSQL that sends nothing more.
    """
    return async_sessionmaker(engine, expire_on_commit=False)


async def read_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """The app's autocommit sessions, for what only reads (see `create_autocommit_sessionmaker`)."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.autocommit_sessionmaker
    return sessionmaker


async def read_connections(request: Request) -> Callable[[], AsyncConnection]:
    """The app's engine's connections, for reads made only of Core statements (rows, not ORM
    objects): autocommit on PostgreSQL like the read sessions, without a session's
    unit of work around them (a twelfth of a list page's CPU, a seventh of a course page's)."""
    engine: AsyncEngine = request.app.state.engine
    return engine.connect


# Called with a request's session once it has committed (not after a rollback), in the
# order they are listed in `app.state.after_commit`: how a domain acts on what it left in
# `session.info` during the request (the outbox wakes its sender), unknown to this module.
AfterCommit = Callable[[AsyncSession], Awaitable[None]]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commit when the route succeeds, roll back on any error;
    after the commit, run the app's `after_commit` hooks."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
        for hook in request.app.state.after_commit:
            await hook(session)


# scope="function": the commit happens before the response is sent, so a client never
# sees a success for something that then failed to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
# For routes that only read: `async with reads() as session:` around the reads. Not a
# dependency that yields a session: FastAPI wraps each of those in two context managers and
# a cancel scope, a seventh of a course page's time (docs/performance.md).
ReadSessions = Annotated[async_sessionmaker[AsyncSession], Depends(read_sessions)]
# The same for reads that are Core statements only (the catalog): `async with reads() as
# connection:`.
ReadConnections = Annotated[Callable[[], AsyncConnection], Depends(read_connections)]
