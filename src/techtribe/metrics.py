"""Prometheus metrics: requests by route template, the business's counters, one exposition.

`http_requests_total{handler, method, status}` and
`http_request_duration_seconds{handler, method}`: the names and labels
prometheus-fastapi-instrumentator used, so dashboards keep working. That library resolved
each request's template itself, before routing, by matching the request against every
route of the app again. Here the router's own choice is read after it made it, and a
request costs two metric updates.

Every metric lives in one process-wide registry. With several uvicorn workers each
process counts on its own, so `techtribe serve` sets `PROMETHEUS_MULTIPROC_DIR` before
this module is imported (prometheus-client picks its value class at import): every
process then writes its samples to files there, and a scrape adds up all of them, so no
counter goes backwards whichever worker answers.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from techtribe.errors import DomainError, problem

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets, in seconds: fine where the catalog's pages are, coarse past a second.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A card gateway answers in tens of milliseconds to seconds; its timeout is 10 s.
SLOW_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "none"  # requests no route took (404s): one label, whatever the path

REGISTRY = CollectorRegistry()
if MULTIPROC_ENV not in os.environ:
    # Per-process figures; in multiprocess mode they would describe only the scraped worker.
    for _collector in (ProcessCollector, PlatformCollector, GCCollector):
        _collector(registry=REGISTRY)

REQUESTS = Counter(
    "http_requests_total",
    "Requests by handler (route template), method and status.",
    ("handler", "method", "status"),
    registry=REGISTRY,
)
REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to the end of the response, by handler and method.",
    ("handler", "method"),
    buckets=BUCKETS,
    registry=REGISTRY,
)
PURCHASES = Counter(
    "techtribe_purchases_total",
    "Checkout requests by outcome: paid (replays too), declined, rejected (4xx), failed (5xx).",
    ("status",),
    registry=REGISTRY,
)
CHECKOUT_LATENCY = Histogram(
    "techtribe_checkout_duration_seconds",
    "Time of a checkout, gateway call included, by outcome.",
    ("status",),
    buckets=SLOW_BUCKETS,
    registry=REGISTRY,
)
REFUNDS = Counter(
    "techtribe_refunds_total",
    "Admins' refunds of purchases by outcome: refunded, rejected (4xx), failed (5xx).",
    ("status",),
    registry=REGISTRY,
)
GATEWAY_LATENCY = Histogram(
    "techtribe_payment_gateway_duration_seconds",
    "Time of each payment gateway call, retries included, by operation and outcome.",
    ("operation", "outcome"),
    buckets=SLOW_BUCKETS,
    registry=REGISTRY,
)
EMAILS = Counter(
    "techtribe_emails_total",
    "E-mail send attempts by result: sent, retry (will try again), failed (gave up).",
    ("result",),
    registry=REGISTRY,
)
LOGIN_THROTTLED = Counter(
    "techtribe_login_throttled_total",
    "Login attempts refused with 429 by the failed-login throttle.",
    registry=REGISTRY,
)

# Every known series starts at 0, so it is there (and `rate()` works) before its first
# event; in multiprocess mode a metric with no series isn't exported at all.
for _status in ("paid", "declined", "rejected", "failed"):
    PURCHASES.labels(_status)
    CHECKOUT_LATENCY.labels(_status)
for _status in ("refunded", "rejected", "failed"):
    REFUNDS.labels(_status)
for _operation, _outcome in (
    ("charge", "ok"),
    ("charge", "declined"),
    ("charge", "error"),
    ("refund", "ok"),
    ("refund", "error"),
):
    GATEWAY_LATENCY.labels(_operation, _outcome)
for _result in ("sent", "retry", "failed"):
    EMAILS.labels(_result)

Scrape = Callable[[], Awaitable[Sequence[Metric]]]


@contextlib.contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[list[str]]:
    """Observe the block's duration; the block may append the outcome label (else "error")."""
    outcome: list[str] = []
    started = time.perf_counter()
    try:
        yield outcome
    finally:
        histogram.labels(*labels, *(outcome or ["error"])).observe(time.perf_counter() - started)


@contextlib.contextmanager
def counted(counter: Counter, latency: Histogram | None = None, *, done: str) -> Iterator[None]:
    """Count the block (and time it) by outcome: `done`, declined, rejected (4xx) or failed."""
    started = time.perf_counter()
    status = "failed"
    try:
        yield
        status = done
    except DomainError as exc:
        if exc.code == "card_declined":
            status = "declined"
        elif exc.status < 500:
            status = "rejected"
        raise
    finally:
        counter.labels(status).inc()
        if latency is not None:
            latency.labels(status).observe(time.perf_counter() - started)


def route_templates(routes: Iterable[BaseRoute]) -> dict[int, str]:
    """`id(route)` and `id(endpoint)` -> the full path template, prefixes of included routers in.

    FastAPI keeps an included router's routes as they were declared (`/courses`) and
    resolves their prefixed path (`/api/v1/courses`) in per-inclusion contexts, walked
    here once. FastAPI's routes put themselves in the scope (`route`); Starlette's plain
    routes and mounts (`/openapi.json`, static files) only their `endpoint`, hence both.
    A route included under two prefixes would get the first.
    """
    templates: dict[int, str] = {}
    for route, template in _walk(routes, ""):
        templates.setdefault(id(route), template)
        endpoint = getattr(route, "app", None) if isinstance(route, Mount) else None
        endpoint = endpoint or getattr(route, "endpoint", None)
        if endpoint is not None:
            templates.setdefault(id(endpoint), template)
    return templates


def _walk(routes: Iterable[BaseRoute], prefix: str) -> Iterator[tuple[BaseRoute, str]]:
    for route in routes:
        contexts: Any = getattr(route, "effective_route_contexts", None)
        if callable(contexts):  # an included router
            for context in contexts():
                original = getattr(context, "original_route", context)
                yield original, prefix + context.path_format
        elif isinstance(route, Mount):
            if route.routes:
                yield from _walk(route.routes, prefix + route.path)
            yield route, prefix + route.path_format
        elif (path := getattr(route, "path_format", None)) is not None:
            yield route, prefix + path


class RequestMetrics:
    """Counts and times every HTTP request but the `skip`ped templates, as
    `middleware.RequestOutcome` reports them."""

    def __init__(self, *, skip: Iterable[str] = ()) -> None:
        self.skip = frozenset(skip)
        self.templates: dict[int, str] | None = None  # built on the first request

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
        handler = self._template(scope)
        if handler not in self.skip:
            method = scope["method"]
            REQUESTS.labels(handler, method, str(status)).inc()
            REQUEST_LATENCY.labels(handler, method).observe(seconds)

    def _template(self, scope: Scope) -> str:
        route = scope.get("route") or scope.get("endpoint")
        if route is None:
            return UNMATCHED
        if self.templates is None:
            self.templates = route_templates(scope["app"].routes)
        template = self.templates.get(id(route))
        if template is None:  # a route added after the first request: look once more
            self.templates = route_templates(scope["app"].routes)
            template = self.templates.setdefault(id(route), getattr(route, "path", UNMATCHED))
        return template


def exposition(extra: Sequence[Metric] = ()) -> bytes:
    """The text format of every metric of this process (every worker's, in multiprocess mode)."""
    if MULTIPROC_ENV in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    text = generate_latest(registry)
    if extra:
        scraped = CollectorRegistry()
        scraped.register(_Fixed(extra))
        text += generate_latest(scraped)
    return text


class _Fixed:
    """A collector of metric families computed before the scrape (async database reads)."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def authorized(request: Request, token: SecretStr | None) -> bool:
    """No token configured, or `Authorization: Bearer <token>` (compared in constant time)."""
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


def metrics_endpoint(
    token: SecretStr | None, scrape: Scrape | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """The `/metrics` handler: `METRICS_TOKEN` checked, then every metric plus `scrape`'s."""

    async def metrics(request: Request) -> Response:
        if not authorized(request, token):
            return problem(
                401,
                "not_authenticated",
                "The metrics need `Authorization: Bearer <METRICS_TOKEN>`.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        extra = await scrape() if scrape is not None else ()
        return Response(exposition(extra), media_type=CONTENT_TYPE_LATEST)

    return metrics


def serve_metrics(app: FastAPI, *, token: SecretStr | None, scrape: Scrape | None = None) -> None:
    """Every metric served at `/metrics` (GET and HEAD)."""
    app.add_api_route(
        "/metrics",
        metrics_endpoint(token, scrape),
        methods=["GET", "HEAD"],
        include_in_schema=False,
    )
