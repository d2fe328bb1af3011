"""The application factory: settings in, a ready FastAPI app out."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import httpx
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.orm import configure_mappers

from techtribe import __version__, redis_client
from techtribe.admin.outbox import router as outbox_router
from techtribe.advisories.router import members_router as bookings_router
from techtribe.advisories.router import router as advisories_router
from techtribe.auth.oidc.providers import OIDCRegistry
from techtribe.auth.oidc.router import providers_router
from techtribe.auth.oidc.router import router as oidc_router
from techtribe.auth.router import account_router
from techtribe.auth.router import router as auth_router
from techtribe.auth.throttle import LoginThrottle
from techtribe.config import Settings, get_settings
from techtribe.courses.router import router as courses_router
from techtribe.db import create_autocommit_sessionmaker, create_engine, create_sessionmaker
from techtribe.docs import mount_docs
from techtribe.errors import install_error_handlers
from techtribe.logs import gather_only_what_lines_show, log_access
from techtribe.metrics import RequestMetrics, serve_metrics
from techtribe.middleware import (
    BodySizeLimit,
    CursorKey,
    RejectNulQuery,
    RequestOutcome,
    SecurityHeaders,
    StrictTransportSecurity,
    UnhandledErrors,
)
from techtribe.notifications.backlog import backlog_metrics
from techtribe.notifications.delivery import OutboxDeliverer, Sender
from techtribe.notifications.jobs import QueueDispatcher, make_queue
from techtribe.notifications.outbox import after_commit_hook
from techtribe.notifications.transports import make_transport
from techtribe.openapi import install_openapi, operation_id
from techtribe.ops import router as ops_router
from techtribe.poems.router import router as poems_router
from techtribe.purchases.dependencies import cancellation_refunds
from techtribe.purchases.payments import make_gateway
from techtribe.purchases.router import router as purchases_router
from techtribe.revenue.router import router as revenue_router
from techtribe.security import warm_up
from techtribe.users.router import router as users_router
from techtribe.web import mount_web

log = logging.getLogger("techtribe")

API_PREFIX = "/api/v1"
# Allocations between two young-generation collections; CPython's default is 700.
GC_YOUNG_THRESHOLD = 50_000

DESCRIPTION = """
Programming courses, one-to-one advisory sessions (asesorías) and a community poems corner.

Sign in with **Authorize** (OAuth2 password flow: your e-mail as *username*). Errors are
RFC 9457 problem details with a stable `code`; the token endpoint answers RFC 6749 errors.
"""


# The embedded e-mail sender's task (no Redis): every statement it sends runs in it.
DELIVERER_TASK = "outbox-deliverer"

# The sections of /docs, in this order (whatever order the routers are matched in).
OPENAPI_TAGS = [
    {"name": "auth", "description": "Sign-up, tokens (OAuth2 password flow), e-mail links, OIDC."},
    {"name": "users", "description": "Your account, and the admins' view of everyone's."},
    {"name": "instructors", "description": "Public instructor profiles and your earnings."},
    {"name": "courses", "description": "The catalog: courses, lessons, tags and reviews."},
    {"name": "advisories", "description": "One-to-one advisory slots (asesorías)."},
    {"name": "purchases", "description": "Card checkout, your purchases, refunds."},
    {"name": "revenue", "description": "Sales and refunds, split between platform and instructor."},
    {"name": "poems", "description": "The community poems corner and its ratings."},
    {"name": "admin", "description": "The e-mail outbox."},
    {"name": "operations", "description": "Liveness, readiness (metrics at /metrics)."},
]
# Matched in this order, and FastAPI tries the routes one by one: the routers most
# requests go to come first.
ROUTERS = (
    courses_router,
    users_router,
    poems_router,
    auth_router,
    purchases_router,
    advisories_router,
    bookings_router,
    account_router,
    oidc_router,
    providers_router,
    revenue_router,
    outbox_router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await warm_up(settings.bcrypt_rounds)
        outbox = app.state.outbox
        deliverer_task = None
        if isinstance(outbox, OutboxDeliverer):
            deliverer_task = asyncio.create_task(outbox.run(), name=DELIVERER_TASK)
        # The HTTP client for OIDC providers; one set before start-up (tests: a fake
        # provider's ASGI transport) is used as given and closed by whoever made it.
        own_oidc_http = app.state.oidc_http is None
        if own_oidc_http:
            app.state.oidc_http = httpx.AsyncClient(
                timeout=settings.oidc_http_timeout_seconds, follow_redirects=False
            )
        try:
            yield
        finally:
            if own_oidc_http:
                await app.state.oidc_http.aclose()
            if deliverer_task is not None:
                deliverer_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await deliverer_task
            else:
                await outbox.aclose()
            await app.state.mail_transport.aclose()
            await app.state.payment_gateway.aclose()
            if app.state.redis is not None:
                await app.state.redis.aclose()
            await app.state.engine.dispose()

    app = FastAPI(
        title="TechTribe",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_tags=OPENAPI_TAGS,
        generate_unique_id_function=operation_id,
        # Our metrics are Prometheus's (`metrics.py`). FastAPI's own OpenTelemetry hooks
        # look for a configured provider on every request: off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    engine = create_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.autocommit_sessionmaker = create_autocommit_sessionmaker(engine)
    app.state.redis = redis_client.connect(settings) if settings.redis_url else None
    app.state.login_throttle = LoginThrottle(settings, app.state.redis)
    app.state.payment_gateway = make_gateway(settings)
    # Advisories can't import purchases (they sit below): their slot cancellation gets
    # purchases' refunds from here.
    app.state.cancellation_refunds = cancellation_refunds
    app.state.oidc = OIDCRegistry(settings)
    app.state.oidc_http = None
    # With Redis, `techtribe worker` sends the e-mails; without, this process does.
    app.state.mail_transport = make_transport(settings)
    if settings.redis_url:
        app.state.outbox = QueueDispatcher(make_queue(settings), settings)
    else:
        app.state.outbox = OutboxDeliverer(
            Sender(app.state.autocommit_sessionmaker, app.state.mail_transport, settings),
            poll_seconds=settings.outbox_poll_seconds,
        )
    # Run by `get_session` after each commit: the only one, the outbox's notice.
    app.state.after_commit = [after_commit_hook(app.state.outbox)]

    install_error_handlers(app)
    # Added innermost first: UnhandledErrors sits inside the request-id middleware.
    app.add_middleware(UnhandledErrors)
    app.add_middleware(CursorKey, jwt_secret=settings.jwt_secret.get_secret_value())
    app.add_middleware(
        RejectNulQuery, exempt_prefixes=(f"{API_PREFIX}/auth/token", f"{API_PREFIX}/auth/oidc/")
    )
    # Ours, not FastAPI's `max_body_size` (left off): that one answers `text/plain`, and a
    # declared oversize body only once a route reads it or starts its answer.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
        )
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    if settings.is_https:
        app.add_middleware(StrictTransportSecurity)
    # Every answer gets these headers, whoever made it.
    app.add_middleware(SecurityHeaders, no_store_prefixes=(f"{API_PREFIX}/auth/",))
    # Outermost: the access line and the metrics see the status the client got.
    metrics = RequestMetrics(skip=("/metrics", "/healthz", "/readyz"))
    app.add_middleware(RequestOutcome, observers=(log_access, metrics))

    # Each router straight on the app: FastAPI matches a request against the routes of
    # every inclusion level twice, so one level less is a quarter fewer calls per request.
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(ops_router)
    serve_metrics(
        app,
        token=settings.metrics_token,
        scrape=lambda: backlog_metrics(app.state.autocommit_sessionmaker),
    )
    mount_docs(app)
    install_openapi(app)
    mount_web(app)
    return app


def create_served_app(settings: Settings | None = None) -> FastAPI:
    """The app as `techtribe serve` runs it, in each worker: `create_app`, then log records
    that gather only what the lines show, and the garbage collector set for a long-lived
    server (`settle_collector`). Not done in `create_app`: a test process builds many
    apps, and freezing would keep each one's garbage forever."""
    app = create_app(settings)
    gather_only_what_lines_show()
    configure_mappers()
    settle_collector()
    return app


def settle_collector() -> None:
    """The garbage collector set for a server whose start-up is over.

    Everything built so far (modules, routes, schemas, mappers) lives as long as the
    process, so it is frozen out of the collector's scans; and young collections run every
    50,000 allocations instead of 700. A request allocates thousands of short-lived objects,
    so with the defaults the collector ran several times per request and, now and then,
    walked the whole heap: measured under load, that cost a third of the catalog's
    throughput and tripled its p99 (docs/performance.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
