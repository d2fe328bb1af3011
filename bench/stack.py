"""The stack: FastAPI and SQLAlchemy as the service runs them, and nothing else of the
service's, on the catalog's first page, deep page and course page.

The service's engine (`db.create_engine`: its pool, autocommit, custom plans), its catalog
statements and cards (`courses.catalog`) and its garbage-collector settings, served like the
floor (uvicorn, a worker per core, uvloop, httptools, no access log). None of the service's
own layers: no middleware, no authentication, no query-string model, no logs, no metrics.
Against the floor (the same SQL over raw asyncpg) it shows what the libraries the design
fixes cost on these pages; the service against it, what the service's own code costs.

    STACK_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/db STACK_JWT_SECRET=... \\
        uvicorn --factory bench.stack:create --workers 2 --loop uvloop --http httptools
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from techtribe import pagination
from techtribe.app import settle_collector
from techtribe.config import Settings
from techtribe.courses import catalog
from techtribe.courses.service import CourseNotFound
from techtribe.db import create_engine


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.engine.dispose()


def create() -> FastAPI:
    """The stack's app, in each worker (`uvicorn --factory`)."""
    settings = Settings(
        database_url=os.environ["STACK_DATABASE_URL"],
        jwt_secret=os.environ["STACK_JWT_SECRET"],
        database_pool_size=int(os.environ.get("STACK_POOL_SIZE", "32")),
    )
    app = FastAPI(
        lifespan=_lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.engine = create_engine(settings)
    # The service's cursors, signed with the same derived key, are this one's.
    app.state.cursor_key = pagination.derive_key(settings.jwt_secret.get_secret_value())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/courses")
    async def list_courses(request: Request) -> Any:
        """The newest courses, from the start or after `cursor` (no other filter)."""
        with pagination.signing_key(request.app.state.cursor_key):
            async with request.app.state.engine.connect() as connection:
                items, next_cursor = await catalog.list_courses(
                    connection,
                    catalog.CourseFilters(),
                    sort="newest",
                    limit=20,
                    cursor=request.query_params.get("cursor"),
                )
        return catalog.CatalogJSON({"items": items, "next_cursor": next_cursor})

    @app.get("/api/v1/courses/{course_id}")
    async def course_page(course_id: uuid.UUID, request: Request) -> Any:
        """A listed course, as anybody sees it; 404 for any other id."""
        async with request.app.state.engine.connect() as connection:
            try:
                course = await catalog.course_detail(connection, course_id, None)
            except CourseNotFound:
                raise HTTPException(404) from None
        return catalog.CatalogJSON(course)

    settle_collector()
    return app
