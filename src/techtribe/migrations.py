"""Running Alembic from the application (CLI, container start, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

# A source checkout keeps alembic/ two levels above this package; the container keeps it
# in the working directory.
_CANDIDATES = (Path.cwd(), Path(__file__).resolve().parents[2])


# Expression indexes: Alembic can't match them with what the database reflects, so
# autogenerate would drop and re-add them on every run. Their migrations are hand-written,
# and tests check that they exist.
EXPRESSION_INDEXES = frozenset({"ix_courses_search"})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
    """Autogenerate's filter: everything but the expression indexes."""
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


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

    async with engine.begin() as connection:
        await connection.run_sync(run)
