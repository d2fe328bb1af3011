"""Real faults for tests: a private Redis to stop and start, a Redis that never answers, and
real `techtribe` processes to signal. Loopback only, free ports, everything bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from techtribe.config import Settings
from tests.conftest import ON_POSTGRES, _in_ci, redis_answers, running_app

REDIS_SERVER = shutil.which("redis-server")

# Tests here need the PostgreSQL lane and a redis-server binary. The embedded lane skips
# them; on the PostgreSQL lane with CI=true a missing redis-server fails them, never skips.
needs_postgres_and_redis_server = pytest.mark.skipif(
    not ON_POSTGRES or (REDIS_SERVER is None and not _in_ci()),
    reason="needs the PostgreSQL lane and a redis-server binary (the embedded lane has no Redis)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, seconds: float = 60.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class PrivateRedis:
    """A `redis-server` of this test alone (no persistence) on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        assert REDIS_SERVER, "redis-server is not installed"
        self._process = await asyncio.create_subprocess_exec(
            REDIS_SERVER,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await wait_for(self.answers, seconds=10, what="the private Redis to start")

    async def answers(self) -> bool:
        return await redis_answers(self.url, seconds=0.5)

    async def stop(self) -> None:
        """Kill it (SIGKILL: an outage, not a maintenance window); its data is gone."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis()
    await server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            if server._process is not None:
                server.resume()  # a stopped process ignores SIGKILL's clean-up until resumed
        await server.stop()


@contextlib.asynccontextmanager
async def silent_server(url: str = "redis://127.0.0.1:{port}/0") -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers: a Redis (or, given a
    database `url` with `{port}` in it, a database server) that hangs."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield url.format(port=port)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def app_started(settings: Settings) -> AsyncIterator[FastAPI]:
    """An in-process app whose lifespan has started (and stops on the way out)."""
    async with contextlib.aclosing(running_app(settings)) as apps:
        yield await anext(apps)


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `techtribe` process configured like `settings`."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "REDIS_TIMEOUT_SECONDS": str(settings.redis_timeout_seconds),
        "READY_TIMEOUT_SECONDS": str(settings.ready_timeout_seconds),
        # Up to 6 connections per process (pool and overflow): the database server is shared
        # by every test process, and the work here is light.
        "DATABASE_POOL_SIZE": "3",
        # Several workers run at once in these tests: no metrics listener on a fixed port.
        "WORKER_METRICS_PORT": "0",
        "ENVIRONMENT": "test",
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "BCRYPT_ROUNDS": str(settings.bcrypt_rounds),
        "LOG_FORMAT": "text",
        "EMAIL_TRANSPORT": settings.email_transport,
        "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": str(settings.smtp_port),
        "PUBLIC_BASE_URL": settings.public_base_url,
        "EMAIL_MAX_ATTEMPTS": str(settings.email_max_attempts),
        "EMAIL_RETRY_BASE_SECONDS": str(settings.email_retry_base_seconds),
        "EMAIL_SEND_TIMEOUT_SECONDS": str(settings.email_send_timeout_seconds),
        "EMAIL_SWEEP_SECONDS": str(settings.email_sweep_seconds),
        "OUTBOX_POLL_SECONDS": str(settings.outbox_poll_seconds),
        "WORKER_SHUTDOWN_TIMEOUT_SECONDS": str(settings.worker_shutdown_timeout_seconds),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": str(settings.login_max_failures_per_account),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": str(settings.login_max_failures_per_address),
    }
    env.update(extra)
    return env


def techtribe_bin() -> str:
    return str(Path(sys.executable).parent / "techtribe")


class Process:
    """A real `techtribe` process whose output goes to a file the test can read."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def exited_within(self, seconds: float) -> float:
        """Wait for the exit; the time it took (fails past `seconds`)."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=seconds)
        except TimeoutError:
            raise AssertionError(f"still running {seconds} s later:\n{self.output}") from None
        return time.monotonic() - started

    async def stop(self) -> None:
        """Clean-up: SIGTERM, then SIGKILL if it lingers."""
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


async def spawn(args: list[str], env: dict[str, str], log: Path) -> Process:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            techtribe_bin(),
            *args,
            env=env,
            cwd=log.parent,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    return Process(process, log)


async def start_worker(settings: Settings, log: Path) -> Process:
    """`techtribe worker`, running once its log says saq started."""
    worker = await spawn(["worker"], process_env(settings), log)

    async def started() -> bool:
        if worker.process.returncode is not None:
            raise AssertionError(f"the worker exited:\n{worker.output}")
        return "Worker starting" in worker.output

    await wait_for(started, seconds=90, what="the worker to start")
    return worker


async def start_api(settings: Settings, log: Path) -> tuple[Process, str]:
    """`techtribe serve` on a free loopback port (no migrations: the tests' database has
    them); its base URL once `/healthz` answers."""
    port = free_port()
    api = await spawn(
        ["serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
        process_env(settings),
        log,
    )
    base = f"http://127.0.0.1:{port}"

    async def healthy() -> bool:
        if api.process.returncode is not None:
            raise AssertionError(f"the API exited:\n{api.output}")
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                return (await http.get(f"{base}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_for(healthy, seconds=90, what="the API to start")
    return api, base
