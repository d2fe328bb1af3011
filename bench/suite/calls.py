"""Python calls per request: the app in process under cProfile, called as ASGI directly
(no client, no server), each line's requests counted and averaged. Unlike requests per
second, the count doesn't drift with the machine: a regression shows on a noisy day."""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import pstats
import uuid
from collections.abc import Callable
from typing import Any

from techtribe.app import create_app
from techtribe.config import Settings

Request = tuple[str, str, dict[str, str], bytes]  # method, path?query, headers, body


async def call(app: Any, request: Request) -> int:
    """One request through the ASGI app; its status."""
    method, target, headers, body = request
    path, _, query = target.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def count(
    settings: Settings, lines: dict[str, Callable[[int], Request]], requests: dict[str, int]
) -> dict[str, tuple[float, dict[int, int]]]:
    """Per line: (calls per request, statuses) over `requests[line]` requests, after five
    untimed ones (statements prepared, caches warm)."""
    app = create_app(settings)
    # The requests' own work only: the e-mails they queue are sent afterwards (by the worker,
    # or the API process's sender), and the backlog the load scenarios left would be counted
    # with whichever request was running when it went out.
    app.state.outbox, app.state.after_commit = _NoSender(), []
    results = {}
    # The console e-mail transport prints each receipt: not into the report.
    with contextlib.redirect_stdout(io.StringIO()):
        async with app.router.lifespan_context(app):
            for name, make in lines.items():
                results[name] = await calls_per_request(app, make, requests.get(name, 50))
    return results


def repeated(request: Request) -> Callable[[int], Request]:
    """The same request every time."""
    return lambda _n: request


async def calls_per_request(
    app: Any, make: Callable[[int], Request], total: int
) -> tuple[float, dict[int, int]]:
    """(Python calls per request, statuses) over `total` requests `make(n)` made, after five
    untimed ones (statements prepared, caches warm); only the ASGI calls are counted."""
    for n in range(5):
        await call(app, make(n))
    statuses: dict[int, int] = {}
    profiler = cProfile.Profile()
    for n in range(5, 5 + total):
        request = make(n)
        profiler.enable()
        status = await call(app, request)
        profiler.disable()
        statuses[status] = statuses.get(status, 0) + 1
    calls = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
    return calls / total, statuses


class _NoSender:
    """Stands in for the app's e-mail sender: sends nothing."""

    async def aclose(self) -> None:
        return None


def purchase(token: str, course: uuid.UUID, card: dict[str, Any]) -> Request:
    body = {"items": [{"kind": "course", "id": str(course)}], "payment": card}
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
        "idempotency-key": str(uuid.uuid4()),
    }
    return "POST", "/api/v1/purchases", headers, json.dumps(body).encode()
