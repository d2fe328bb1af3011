"""Operations endpoints: liveness and readiness (`/metrics`: techtribe.metrics)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from techtribe.errors import problem

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Touches no dependency."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "A dependency does not answer (`not_ready`); see `checks`."}},
)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database (and Redis, when configured) answer, both asked at once, so
    the answer comes within READY_TIMEOUT_SECONDS."""
    app = request.app
    pings = {"database": _ping_database(app)}
    if app.state.redis is not None:
        pings["redis"] = app.state.redis.ping()
    outcomes = await asyncio.gather(*(_check(app, ping) for ping in pings.values()))
    checks = dict(zip(pings, outcomes, strict=True))
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    return problem(503, "not_ready", "A dependency does not answer; see `checks`.", checks=checks)


async def _ping_database(app: FastAPI) -> None:
    async with app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check(app: FastAPI, awaitable: Any) -> str:
    try:
        async with asyncio.timeout(app.state.settings.ready_timeout_seconds):
            await awaitable
    except Exception as exc:  # any failure means "not ready"; the type says which
        return f"error: {type(exc).__name__}"
    return "ok"
