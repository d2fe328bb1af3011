"""`techtribe worker`'s `/metrics`: a small uvicorn server in the worker's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Coroutine, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from techtribe.config import Settings
from techtribe.metrics import metrics_endpoint

log = logging.getLogger("techtribe.worker")


class _Server(uvicorn.Server):
    """Leaves the signals to the worker: SIGTERM stops the worker, and this server with it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def metrics_app(settings: Settings) -> Starlette:
    """`/metrics` (GET and HEAD), behind `METRICS_TOKEN` like the API's."""
    endpoint = metrics_endpoint(settings.metrics_token)
    return Starlette(routes=[Route("/metrics", endpoint, methods=["GET", "HEAD"])])


async def with_metrics(settings: Settings, main: Coroutine[Any, Any, None]) -> None:
    """Run `main` with `/metrics` on WORKER_METRICS_PORT (none when it is 0).

    A port that is taken costs the metrics, not the e-mails: the worker runs on without.
    """
    host, port = settings.worker_metrics_host, settings.worker_metrics_port
    if port == 0:
        await main
        return
    try:
        # Bound here, not by uvicorn: uvicorn answers a taken port with sys.exit().
        listener = socket.create_server((host, port))
    except OSError as exc:
        log.error("worker metrics: cannot listen on %s:%d (%s); running without", host, port, exc)
        await main
        return
    config = uvicorn.Config(
        metrics_app(settings), log_config=None, access_log=False, lifespan="off"
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="worker-metrics")
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    try:
        await main
    finally:
        server.should_exit = True
        await serving
        listener.close()
