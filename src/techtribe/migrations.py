"""Running Alembic from the application (CLI, container start, tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

# A source checkout keeps alembic/ two levels above this package; the container keeps it
# in the working directory.
_CANDIDATES = (Path.cwd(), Path(__file__).resolve().parents[2])


def include_object(dialect: str) -> Callable[..., bool]:
    """Autogenerate's filter on `dialect`: leave out what the models build only on another
    database (`Index(...).ddl_if(dialect="postgresql")`), which the migrations don't build
    there either."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        only_on = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
        return only_on is None or only_on == dialect

    return include


def alembic_config(database_url: str | None = None) -> Config:
    for root in _CANDIDATES:
        ini = root / "alembic.ini"
        if ini.is_file() and (root / "alembic").is_dir():
            config = Config(str(ini))
            break
    else:
        raise RuntimeError("alembic.ini not found: run from the project directory")
    config.attributes["configure_logger"] = False
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking: for the command line (it runs its own event loop)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """From async code: migrate through a connection of `engine`."""
    config = alembic_config()

    def run(connection: object) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    # Not `engine.begin()`: the migrations manage their transactions (a revision may commit
    # between steps, see alembic/env.py).
    async with engine.connect() as connection:
        await connection.run_sync(run)
