"""Pure ASGI middleware: each request's outcome (for the access log and the metrics),
security headers, HSTS, body size limit, NUL in query strings, the cursor key, and the
last-resort 500 problem."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from asgi_correlation_id import correlation_id
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from techtribe.errors import problem
from techtribe.inputs import NUL_MESSAGE
from techtribe.pagination import derive_key, signing_key

log = logging.getLogger("techtribe.errors")

# Told of each HTTP request once its response is sent: (scope, status, seconds).
RequestObserver = Callable[[Scope, int, float], None]


class RequestOutcome:
    """Times each HTTP request and notes its status (500 if the app raised before answering),
    then tells each observer (`logs.log_access`, `metrics.RequestMetrics`): one clock and
    one wrapped `send` for all of them."""

    def __init__(self, app: ASGIApp, observers: Sequence[RequestObserver]) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            seconds = time.perf_counter() - started
            for observe in self.observers:
                observe(scope, status, seconds)


class UnhandledErrors:
    """Any exception a route lets through: logged with the request id, answered as a 500 problem.

    Inside the request-id middleware, so the answer carries `X-Request-ID` too. The
    request's database session has already rolled back on its way out.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = correlation_id.get() or "-"
            # The id goes in the message itself: a worker process may run without our log filter.
            log.exception(
                "unhandled error in %s %s (request id %s)",
                scope.get("method"),
                scope.get("path"),
                request_id,
            )
            if started:
                raise
            response = problem(
                500,
                "internal_error",
                f"Something went wrong on our side. Quote request id {request_id} to report it.",
                request_id=request_id,
            )
            await response(scope, receive, send)


class PayloadTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing lets it through to the 413 handler."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is over {max_bytes} bytes.")


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with `413 payload_too_large`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except PayloadTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, "payload_too_large", f"The request body is over {self.max_bytes} bytes."
        )
        await response(scope, receive, send)


class SecurityHeaders:
    """The headers every response carries, whoever answered (routes, docs, static files, 404s,
    413s, 500s): `nosniff` always, and `Cache-Control: no-store` on the answers that are
    personal (the request carried a bearer token) or secret (anything under `no_store_prefixes`,
    the token endpoint's early 413 and 422 included). Outermost, so nothing escapes it.
    """

    def __init__(self, app: ASGIApp, no_store_prefixes: Sequence[str]) -> None:
        self.app = app
        self.no_store_prefixes = tuple(no_store_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(self.no_store_prefixes) or _has_bearer(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _has_bearer(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bool(value[:7].lower() == b"bearer ")
    return False


class RejectNulQuery:
    """A NUL in the query string is `422 validation_error`, before any route reads it.

    Percent-decoding makes a NUL only out of `%00`, so the raw query string tells. Paths under
    `exempt_prefixes` answer in their own protocol's terms (the token endpoint's RFC 6749
    errors, the OIDC redirects) and check their parameters themselves.
    """

    def __init__(self, app: ASGIApp, exempt_prefixes: Sequence[str]) -> None:
        self.app = app
        self.exempt_prefixes = tuple(exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or (b"%00" not in scope["query_string"] and b"\x00" not in scope["query_string"])
            or scope["path"].startswith(self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        response = problem(
            422,
            "validation_error",
            "The request is not valid; see `errors`.",
            title="Validation failed",
            errors=[{"loc": ["query"], "msg": NUL_MESSAGE, "type": "value_error"}],
        )
        await response(scope, receive, send)


class CursorKey:
    """Pagination cursors made and checked during a request are signed with this app's key."""

    def __init__(self, app: ASGIApp, jwt_secret: str) -> None:
        self.app = app
        self.key = derive_key(jwt_secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with signing_key(self.key):
            await self.app(scope, receive, send)


class StrictTransportSecurity:
    """`Strict-Transport-Security` on every response: installed when PUBLIC_BASE_URL is https.

    Outermost, so errors, 404s and the problems other middleware answer carry it too.
    Browsers ignore it over plain HTTP, so a proxy terminating TLS in front is fine.
    """

    HEADER = (b"strict-transport-security", b"max-age=31536000")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.HEADER]
            await send(message)

        await self.app(scope, receive, sending)
