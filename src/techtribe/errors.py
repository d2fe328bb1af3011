"""Errors as types, mapped once: domain errors -> RFC 9457 problems, token errors -> RFC 6749."""

from __future__ import annotations

import logging
import socket
from http import HTTPStatus
from typing import Any

from asgi_correlation_id import correlation_id
from asyncpg.exceptions import (
    CannotConnectNowError,
    PostgresConnectionError,
    TooManyConnectionsError,
)
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from techtribe.db import database_unavailable

PROBLEM_JSON = "application/problem+json"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# Every `code` a problem may carry, and what it means: the OpenAPI `ProblemCode` enum that
# generated clients parse into. A `DomainError` subclass that sets `code` lands here by
# itself (`__init_subclass__`); codes raised another way are listed by hand. A test fails
# when a response carries a code missing from this registry.
ERROR_CODES: dict[str, str] = {
    "validation_error": "The request is not valid; `errors` says where (422).",
    "invalid_cursor": "A `cursor` the server did not issue, or one that was altered (422).",
    "internal_error": "An unexpected failure; `request_id` is also in the server log (500).",
    "service_unavailable": "The database was cut off mid-request; retry (503, `Retry-After`).",
    "not_ready": "A dependency of `/readyz` does not answer (503).",
    "concurrent_update": "Another request changed the same data; nothing was saved (409).",
    "bad_request": "The request can't be processed (400).",
    "not_authenticated": "No access token was sent (401).",
    "invalid_token": "A malformed, unknown or wrong-type token (401), or a bad e-mail link (400).",
    "token_expired": "The access token expired: refresh it (401).",
    "token_revoked": "The token was revoked (logout, password change, deactivation) (401).",
    "inactive_user": "The account is deactivated (401).",
    "fresh_token_required": "This action needs a token from a password login (401).",
    "forbidden": "The caller is known but not allowed (403).",
    "not_found": "No such resource, or not one the caller may see (404).",
    "method_not_allowed": "The path does not take this method (405).",
    "not_acceptable": "No representation matches `Accept` (406).",
    "payload_too_large": "The request body is over `MAX_BODY_BYTES` (413).",
    "unsupported_media_type": "The body's content type is not accepted (415).",
    "too_many_requests": "Too many requests; see `Retry-After` (429).",
    "http_error": "Another HTTP-level failure.",
    "own_item": "An instructor can't buy their own course or book their own slot (409).",
    "own_course": "An instructor can't review their own course (403).",
    "cannot_change_self": "An admin can't change their own role or activity (409).",
}


def register_code(code: str, meaning: str) -> None:
    """Add `code` to the contract's registry (keeps the first meaning given)."""
    ERROR_CODES.setdefault(code, meaning)


class DomainError(Exception):
    """A failure a client can cause; subclasses fix `status` and `code`."""

    status: int = 400
    code: str = "bad_request"
    title: str | None = None
    detail_text: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            meaning = cls.detail_text or (cls.__doc__ or "").strip().split("\n")[0]
            register_code(cls.code, f"{meaning} ({cls.status})")

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.detail_text or HTTPStatus(self.status).phrase
        if code is not None:
            self.code = code
        self.headers = headers or {}
        # Extra members of the problem body (e.g. `errors` for validation failures).
        self.extra: dict[str, Any] = {}
        super().__init__(self.detail)


class NotFound(DomainError):
    status, code, detail_text = 404, "not_found", "The resource does not exist."


class Forbidden(DomainError):
    status, code, detail_text = 403, "forbidden", "You are not allowed to do this."


class Conflict(DomainError):
    status, code = 409, "conflict"


class InvalidToken400(DomainError):
    status, code, detail_text = (
        400,
        "invalid_token",
        "The token is invalid, expired or already used.",
    )


class Unauthorized(DomainError):
    """401 with the RFC 6750 challenge; `code` says which of the token problems it was."""

    status = 401
    code = "not_authenticated"
    detail_text = "Authentication required."

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        challenge = "Bearer"
        if self.code != "not_authenticated":
            # RFC 6750 section 3: error="invalid_token" for any token that can't be used.
            challenge = f'Bearer error="invalid_token", error_description="{self.detail}"'
        self.headers = {"WWW-Authenticate": challenge}


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error of the token endpoint."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body: dict[str, Any] = {
        "type": f"https://techtribe.dev/problems/{code.replace('_', '-')}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def oauth_error(
    error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(
        exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
    )


def _oauth_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    return oauth_error(exc.error, exc.description, exc.status, exc.headers)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method the path takes. Starlette's 405 names only the first route whose path
    matched, and a path served by several routes (GET and POST) must list them all."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = "The resource does not exist."
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        headers["Allow"] = allowed
    return problem(exc.status_code, code, detail, headers=headers)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Built by hand: FastAPI's default echoes the input back, passwords and card numbers too.
    errors = [
        {
            "loc": list(err.get("loc", ())),
            "msg": err.get("msg", "invalid value"),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    return problem(
        422,
        "validation_error",
        "The request is not valid; see `errors`.",
        title="Validation failed",
        errors=errors,
    )


# PostgreSQL refuses text it can't store (a NUL character above all): the client's input.
_UNSTORABLE_TEXT = {"22021", "22P05"}  # character_not_in_repertoire, untranslatable_character


# Two transactions in each other's way (rare: lock order is kept where it can be): the
# database cancelled this one, nothing was written, and the same request may succeed now.
_RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected


# Seconds a client is told to wait after a database fault: a killed connection is
# replaced at once, a restarting PostgreSQL takes a few seconds.
DATABASE_RETRY_AFTER = "2"

log = logging.getLogger("techtribe.errors")


def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The database or the connection to it failed mid-request: rolled back, retry later."""
    request_id = correlation_id.get() or "-"
    log.warning(
        "database unavailable, answered 503 (request id %s): %s: %s",
        request_id,
        type(exc).__name__,
        str(exc).splitlines()[0] if str(exc) else "",
    )
    return problem(
        503,
        "service_unavailable",
        "The database (or another service this one needs) did not answer; nothing was saved. "
        "Retry the request in a moment "
        "(a retried purchase with the same Idempotency-Key is charged at most once).",
        title="Service Unavailable",
        headers={"Retry-After": DATABASE_RETRY_AFTER},
        request_id=request_id,
    )


def _connection_error(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        return _database_unavailable(request, exc)
    raise exc  # not the database's: the last-resort handler answers 500 and logs it


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if database_unavailable(exc):
        return _database_unavailable(request, exc)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE:
        return problem(
            409,
            "concurrent_update",
            "Another request changed the same data at the same time; nothing was saved. "
            "Retry the request.",
            headers={"Retry-After": "1"},
        )
    if sqlstate not in _UNSTORABLE_TEXT:
        raise exc  # a real failure: the last-resort handler answers 500 and logs it
    return problem(
        422,
        "validation_error",
        "The request contains characters that can't be stored (such as NUL).",
        title="Validation failed",
        errors=[
            {"loc": ["body"], "msg": "text may not contain NUL characters", "type": "value_error"}
        ],
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(OAuthError, _oauth_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # What a database that is away raises besides DBAPIError (see `database_unavailable`).
    for fault in (
        PoolTimeout,
        ConnectionError,
        TimeoutError,
        socket.gaierror,
        PostgresConnectionError,
        CannotConnectNowError,
        TooManyConnectionsError,
    ):
        app.add_exception_handler(fault, _connection_error)
