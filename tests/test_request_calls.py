"""The hot read paths keep their Python cost: a regression guard that can't flake, because
it counts Python calls per request (cProfile), which don't move with the machine's load.

The app is called as ASGI directly and counted as the bench's own calls table counts
(`bench.suite.calls.calls_per_request`: no client in the count, after five untimed requests);
each bound is the count measured when it was set plus about 10% (docs/performance.md).
A change that adds a dependency level, a middleware or a per-row step to these paths
shows up here before it shows up in `python -m bench`.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from bench.suite import calls
from tests.catalog import add_lesson, create_course
from tests.conftest import ON_POSTGRES
from tests.helpers import API, member

# aiosqlite's calls differ from asyncpg's; the bounds are PostgreSQL's.
pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="bounds measured on PostgreSQL")

# Most Python calls per request, access line included: measured 1,948 (list), 1,413 (course
# page) and 1,880 (/users/me) on this suite's data, the same within a few calls on every
# run; the bounds are about 10% above. (Before read sessions took the engine's own
# autocommit, the optional and viewer logins their settings and sessions without two
# sub-dependencies, and the catalog a connection without a session: 2,301, 1,821 and 2,213.)
BOUNDS = {"list": 2_140, "course page": 1_550, "/users/me": 2_070}
REQUESTS = 20


async def test_the_hot_read_paths_stay_within_their_python_calls(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    # Access lines on, as in production, whatever earlier tests left configured.
    caplog.set_level(logging.INFO, logger="techtribe.access")
    teacher = await member(client, db, role="instructor")
    student = await member(client, db)
    courses = [await create_course(client, teacher, published=True) for _ in range(21)]
    for position in (1, 2, 3):
        await add_lesson(client, teacher, courses[-1]["id"], position)
    paths = {
        "list": (f"{API}/courses", {}),
        "course page": (f"{API}/courses/{courses[-1]['id']}", {}),
        "/users/me": (f"{API}/users/me", {"authorization": f"Bearer {student.access}"}),
    }

    counted = {}
    for name, (path, headers) in paths.items():
        request = ("GET", path, headers, b"")
        assert await calls.call(app, request) == 200, name
        counted[name], statuses = await calls.calls_per_request(
            app, calls.repeated(request), REQUESTS
        )
        assert statuses == {200: REQUESTS}, (name, statuses)

    over = {name: round(n) for name, n in counted.items() if n > BOUNDS[name]}
    assert not over, f"Python calls per request over the bound {BOUNDS}: {over}"
